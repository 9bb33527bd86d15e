/** Symbols of ffi/native/jpeg.c (C signature beside each). Rules: ffi/README.md. */
export const jpegSymbols = {
  // smx_jpeg *smx_jpeg_open(uint32_t width, uint32_t height, uint32_t quality)
  smx_jpeg_open: { parameters: ["u32", "u32", "u32"], result: "pointer" },
  // int smx_jpeg_encode_rgba(smx_jpeg *j, const uint8_t *pixels, uint64_t pixels_len,
  //                          uint32_t width, uint32_t height, uint32_t stride, uint32_t format,
  //                          uint64_t frame, int64_t capture_us)
  smx_jpeg_encode_rgba: {
    parameters: ["pointer", "buffer", "u64", "u32", "u32", "u32", "u32", "u64", "i64"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_jpeg_encode_ring(smx_jpeg *j, smx_ring_reader *r)
  smx_jpeg_encode_ring: { parameters: ["pointer", "pointer"], result: "i32", nonblocking: true },
  // const uint8_t *smx_jpeg_packet_data(smx_jpeg *j)
  smx_jpeg_packet_data: { parameters: ["pointer"], result: "pointer" },
  // int smx_jpeg_packet_info(smx_jpeg *j, smx_jpeg_info *out /* 64 bytes */)
  smx_jpeg_packet_info: { parameters: ["pointer", "buffer"], result: "i32" },
  // int smx_jpeg_set_quality(smx_jpeg *j, uint32_t quality)
  smx_jpeg_set_quality: { parameters: ["pointer", "u32"], result: "i32" },
  // const char *smx_jpeg_error(smx_jpeg *j)
  smx_jpeg_error: { parameters: ["pointer"], result: "pointer" },
  // void smx_jpeg_close(smx_jpeg *j) -- waits for a call in flight on another thread
  smx_jpeg_close: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/encoder.c (C signature beside each). Rules: ffi/README.md. */
export const encoderSymbols = {
  // smx_encoder *smx_encoder_open(const char *preference, uint32_t width, uint32_t height,
  //                               uint32_t fps, uint32_t bitrate_kbps, char *err,
  //                               uint32_t err_cap, int32_t *status)
  smx_encoder_open: {
    parameters: ["buffer", "u32", "u32", "u32", "u32", "buffer", "u32", "buffer"],
    result: "pointer",
    nonblocking: true,
  },
  // smx_encoder *smx_encoder_open_profile(const char *preference, uint32_t width,
  //                                       uint32_t height, uint32_t fps, uint32_t bitrate_kbps,
  //                                       uint32_t profile /* 0 Main, 1 Baseline */, char *err,
  //                                       uint32_t err_cap, int32_t *status)
  smx_encoder_open_profile: {
    parameters: ["buffer", "u32", "u32", "u32", "u32", "u32", "buffer", "u32", "buffer"],
    result: "pointer",
    nonblocking: true,
  },
  // const char *smx_encoder_name(smx_encoder *e)
  smx_encoder_name: { parameters: ["pointer"], result: "pointer" },
  // const char *smx_encoder_skipped(smx_encoder *e)
  smx_encoder_skipped: { parameters: ["pointer"], result: "pointer" },
  // const char *smx_encoder_codec(smx_encoder *e)
  smx_encoder_codec: { parameters: ["pointer"], result: "pointer" },
  // int smx_encoder_encode_rgba(smx_encoder *e, const uint8_t *pixels, uint64_t pixels_len,
  //                             uint32_t width, uint32_t height, uint32_t stride,
  //                             uint32_t format, uint64_t frame, int64_t capture_us,
  //                             int32_t force_idr)
  smx_encoder_encode_rgba: {
    parameters: ["pointer", "buffer", "u64", "u32", "u32", "u32", "u32", "u64", "i64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_encoder_encode_ring(smx_encoder *e, smx_ring_reader *r, int32_t force_idr)
  smx_encoder_encode_ring: {
    parameters: ["pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // const uint8_t *smx_encoder_packet_data(smx_encoder *e)
  smx_encoder_packet_data: { parameters: ["pointer"], result: "pointer" },
  // int smx_encoder_packet_info(smx_encoder *e, smx_packet_info *out /* 64 bytes */)
  smx_encoder_packet_info: { parameters: ["pointer", "buffer"], result: "i32" },
  // int smx_encoder_request_idr(smx_encoder *e)
  smx_encoder_request_idr: { parameters: ["pointer"], result: "i32" },
  // int smx_encoder_set_bitrate(smx_encoder *e, uint32_t kbps)
  smx_encoder_set_bitrate: { parameters: ["pointer", "u32"], result: "i32" },
  // int smx_encoder_set_fps(smx_encoder *e, uint32_t fps)
  smx_encoder_set_fps: { parameters: ["pointer", "u32"], result: "i32" },
  // const char *smx_encoder_error(smx_encoder *e)
  smx_encoder_error: { parameters: ["pointer"], result: "pointer" },
  // void smx_encoder_close(smx_encoder *e) -- waits for a call in flight on another thread
  smx_encoder_close: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/stamp.c (C signature beside each); portable: in both libraries. */
export const stampSymbols = {
  // uint32_t smx_stamp_band_height(uint32_t width)
  smx_stamp_band_height: { parameters: ["u32"], result: "u32" },
  // int smx_stamp_write(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
  //                     uint32_t format, uint32_t frame, int64_t capture_us)
  smx_stamp_write: {
    parameters: ["buffer", "u32", "u32", "u32", "u32", "u32", "i64"],
    result: "i32",
  },
  // int smx_stamp_read(const uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
  //                    uint32_t format, int64_t *out /* [frame, capture_us] */)
  smx_stamp_read: {
    parameters: ["buffer", "u32", "u32", "u32", "u32", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

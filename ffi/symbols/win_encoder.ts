/**
 * Symbols of the Windows encoder (ffi/native/win/win_encoder.c over nvenc.c,
 * d3d11_video_processor.c, mf_encoder.c): Windows only (smx.dll). C signature beside each; API
 * and rules: ffi/native/win/win_encoder.h.
 */
export const winEncoderSymbols = {
  // smx_win_encoder *smx_win_encoder_open(void *device /* ID3D11Device* or NULL */,
  //                                       uint32_t width, uint32_t height, uint32_t fps,
  //                                       uint32_t bitrate_kbps, uint32_t profile /* 0 Main, 1 Baseline */,
  //                                       const char *preference /* "nvenc,mf" */, char *err,
  //                                       uint32_t err_cap, int32_t *status)
  smx_win_encoder_open: {
    parameters: ["pointer", "u32", "u32", "u32", "u32", "u32", "buffer", "buffer", "u32", "buffer"],
    result: "pointer",
    nonblocking: true,
  },
  // int smx_win_encoder_encode_texture(smx_win_encoder *e, void *texture /* ID3D11Texture2D* */,
  //                                    uint64_t frame, int64_t capture_us, int32_t force_idr)
  smx_win_encoder_encode_texture: {
    parameters: ["pointer", "pointer", "u64", "i64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_win_encoder_encode_bgra(smx_win_encoder *e, const uint8_t *pixels,
  //                                 uint64_t pixels_len, uint32_t width, uint32_t height,
  //                                 uint32_t stride, uint32_t format, uint64_t frame,
  //                                 int64_t capture_us, int32_t force_idr)
  smx_win_encoder_encode_bgra: {
    parameters: ["pointer", "buffer", "u64", "u32", "u32", "u32", "u32", "u64", "i64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_win_encoder_encode_spout(smx_win_encoder *e, smx_spout_receiver *r, int32_t force_idr)
  smx_win_encoder_encode_spout: {
    parameters: ["pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // const uint8_t *smx_win_encoder_packet_data(smx_win_encoder *e)
  smx_win_encoder_packet_data: { parameters: ["pointer"], result: "pointer" },
  // int smx_win_encoder_packet_info(smx_win_encoder *e, smx_win_packet_info *out /* 64 bytes */)
  smx_win_encoder_packet_info: { parameters: ["pointer", "buffer"], result: "i32" },
  // const char *smx_win_encoder_name(smx_win_encoder *e)
  smx_win_encoder_name: { parameters: ["pointer"], result: "pointer" },
  // const char *smx_win_encoder_skipped(smx_win_encoder *e)
  smx_win_encoder_skipped: { parameters: ["pointer"], result: "pointer" },
  // const char *smx_win_encoder_codec(smx_win_encoder *e)
  smx_win_encoder_codec: { parameters: ["pointer"], result: "pointer" },
  // const char *smx_win_encoder_error(smx_win_encoder *e)
  smx_win_encoder_error: { parameters: ["pointer"], result: "pointer" },
  // int smx_win_encoder_request_idr(smx_win_encoder *e)
  smx_win_encoder_request_idr: { parameters: ["pointer"], result: "i32" },
  // int smx_win_encoder_set_bitrate(smx_win_encoder *e, uint32_t kbps)
  smx_win_encoder_set_bitrate: { parameters: ["pointer", "u32"], result: "i32" },
  // int smx_win_encoder_set_fps(smx_win_encoder *e, uint32_t fps)
  smx_win_encoder_set_fps: { parameters: ["pointer", "u32"], result: "i32" },
  // void *smx_win_encoder_device(smx_win_encoder *e) /* ID3D11Device* or NULL */
  smx_win_encoder_device: { parameters: ["pointer"], result: "pointer" },
  // void smx_win_encoder_close(smx_win_encoder *e) -- waits for a call in flight
  smx_win_encoder_close: { parameters: ["pointer"], result: "void" },
  // int smx_win_encoder_caps(void *device /* or NULL */, char *out, uint32_t cap)
  //   -- JSON length or a negative status
  smx_win_encoder_caps: {
    parameters: ["pointer", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * Symbols of ffi/native/win/spout.c, the Spout receiver: Windows only (smx.dll). C signature beside
 * each; API and Spout's layout: ffi/native/win/spout.h.
 */
export const spoutSymbols = {
  // int smx_spout_list(char *buf, uint64_t cap)
  smx_spout_list: { parameters: ["buffer", "u64"], result: "i32" },
  // smx_spout_receiver *smx_spout_receiver_open(const char *name, uint32_t poll_fps)
  smx_spout_receiver_open: { parameters: ["buffer", "u32"], result: "pointer" },
  // int smx_spout_receiver_wait(smx_spout_receiver *r, uint64_t after_frame, int32_t timeout_ms)
  smx_spout_receiver_wait: {
    parameters: ["pointer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_spout_receiver_info(smx_spout_receiver *r, smx_spout_info *out /* 64 bytes */)
  smx_spout_receiver_info: { parameters: ["pointer", "buffer"], result: "i32" },
  // int64_t smx_spout_receiver_copy_latest(smx_spout_receiver *r, uint8_t *dst, uint64_t dst_cap,
  //                                        smx_spout_info *out /* 64 bytes */)
  smx_spout_receiver_copy_latest: {
    parameters: ["pointer", "buffer", "u64", "buffer"],
    result: "i64",
    nonblocking: true,
  },
  // const char *smx_spout_receiver_error(smx_spout_receiver *r)
  smx_spout_receiver_error: { parameters: ["pointer"], result: "pointer" },
  // void smx_spout_receiver_close(smx_spout_receiver *r) -- waits for a call in flight
  smx_spout_receiver_close: { parameters: ["pointer"], result: "void" },
  // int64_t smx_spout_d3d_selftest(uint32_t width, uint32_t height, uint32_t dxgi_format,
  //                                uint32_t keyed, uint8_t *dst, uint64_t dst_cap, char *msg,
  //                                uint32_t msg_cap)
  smx_spout_d3d_selftest: {
    parameters: ["u32", "u32", "u32", "u32", "buffer", "u64", "buffer", "u32"],
    result: "i64",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/ring.c (C signature beside each). Layout and rules: docs/frame-ring.md. */
export const ringSymbols = {
  // smx_ring_writer *smx_ring_writer_open(const char *name, uint32_t width, uint32_t height,
  //                                       uint32_t format, uint32_t slots)
  smx_ring_writer_open: { parameters: ["buffer", "u32", "u32", "u32", "u32"], result: "pointer" },
  // uint8_t *smx_ring_writer_begin(smx_ring_writer *w)
  smx_ring_writer_begin: { parameters: ["pointer"], result: "pointer" },
  // uint32_t smx_ring_writer_stride(smx_ring_writer *w)
  smx_ring_writer_stride: { parameters: ["pointer"], result: "u32" },
  // int64_t smx_ring_writer_commit(smx_ring_writer *w, int64_t capture_us)
  smx_ring_writer_commit: { parameters: ["pointer", "i64"], result: "i64" },
  // int smx_ring_writer_resize(smx_ring_writer *w, uint32_t width, uint32_t height)
  smx_ring_writer_resize: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  // int smx_ring_writer_heartbeat(smx_ring_writer *w)
  smx_ring_writer_heartbeat: { parameters: ["pointer"], result: "i32" },
  // void smx_ring_writer_close(smx_ring_writer *w)
  smx_ring_writer_close: { parameters: ["pointer"], result: "void" },

  // smx_ring_reader *smx_ring_reader_open(const char *name)
  smx_ring_reader_open: { parameters: ["buffer"], result: "pointer" },
  // int smx_ring_reader_wait(smx_ring_reader *r, uint64_t after_frame, int32_t timeout_ms)
  smx_ring_reader_wait: {
    parameters: ["pointer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int smx_ring_reader_info(smx_ring_reader *r, smx_ring_info *out /* 48 bytes */)
  smx_ring_reader_info: { parameters: ["pointer", "buffer"], result: "i32" },
  // int64_t smx_ring_reader_copy_latest(smx_ring_reader *r, uint8_t *dst, uint64_t dst_cap,
  //                                     smx_ring_info *out /* 48 bytes */)
  smx_ring_reader_copy_latest: {
    parameters: ["pointer", "buffer", "u64", "buffer"],
    result: "i64",
    nonblocking: true,
  },
  // int smx_ring_reader_acquire(smx_ring_reader *r, smx_frame_view *view /* 56 bytes */)
  smx_ring_reader_acquire: { parameters: ["pointer", "buffer"], result: "i32" },
  // int smx_ring_reader_still_valid(smx_ring_reader *r, const smx_frame_view *view)
  smx_ring_reader_still_valid: { parameters: ["pointer", "buffer"], result: "i32" },
  // const char *smx_ring_reader_error(smx_ring_reader *r)
  smx_ring_reader_error: { parameters: ["pointer"], result: "pointer" },
  // void smx_ring_reader_close(smx_ring_reader *r)
  smx_ring_reader_close: { parameters: ["pointer"], result: "void" },

  // int smx_ring_list(char *buf, uint64_t cap, int32_t stale_ms)
  smx_ring_list: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/pattern.c (C signature beside each); the stamp's are in stamp.ts. */
export const patternSymbols = {
  // smx_pattern *smx_pattern_start(const char *ring_name, uint32_t width, uint32_t height,
  //                                uint32_t fps, uint32_t format)
  smx_pattern_start: { parameters: ["buffer", "u32", "u32", "u32", "u32"], result: "pointer" },
  // int smx_pattern_set_params(smx_pattern *p, const smx_pattern_params *params /* 64 bytes */)
  smx_pattern_set_params: { parameters: ["pointer", "buffer"], result: "i32" },
  // int smx_pattern_set_rate(smx_pattern *p, uint32_t fps)
  smx_pattern_set_rate: { parameters: ["pointer", "u32"], result: "i32" },
  // int smx_pattern_resize(smx_pattern *p, uint32_t width, uint32_t height)
  smx_pattern_resize: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  // int smx_pattern_set_overlay(smx_pattern *p, const uint8_t *modules /* size*size, or NULL */,
  //                             uint32_t size, uint32_t x, uint32_t y, uint32_t scale)
  smx_pattern_set_overlay: {
    parameters: ["pointer", "buffer", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  // int smx_pattern_stats(smx_pattern *p, uint64_t *out /* 4 x u64 */)
  smx_pattern_stats: { parameters: ["pointer", "buffer"], result: "i32" },
  // void smx_pattern_stop(smx_pattern *p) -- joins the render thread (at most one frame + 20 ms)
  smx_pattern_stop: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

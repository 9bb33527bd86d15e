/** Symbols of ffi/native/proc_limits.c (C signature beside each). */
export const limitsSymbols = {
  // int smx_raise_nofile(uint64_t *before_out, uint64_t *soft_out, uint64_t *hard_out)
  smx_raise_nofile: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/smx_common.c. */
export const commonSymbols = {
  // const char *smx_last_error(void)
  smx_last_error: { parameters: [], result: "pointer" },
  // int smx_last_error_code(void)
  smx_last_error_code: { parameters: [], result: "i32" },
  // const char *smx_version(void)
  smx_version: { parameters: [], result: "pointer" },
  // int64_t smx_now_us(void)
  smx_now_us: { parameters: [], result: "i64" },
  // int64_t smx_monotonic_ns(void)
  smx_monotonic_ns: { parameters: [], result: "i64" },
} as const satisfies Deno.ForeignLibraryInterface;

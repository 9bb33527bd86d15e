/**
 * Symbols of the Windows encoder (ffi/native/win/nvenc*.c, d3d11_*.c, mf_*.c): Windows only
 * (smx.dll). Filled by the encoder's own change; empty until then. C signature beside each.
 */
export const winEncoderSymbols = {} as const satisfies Deno.ForeignLibraryInterface;

/** Symbols of ffi/native/encoder.c (C signature beside each). */
export const encoderSymbols = {} as const satisfies Deno.ForeignLibraryInterface;

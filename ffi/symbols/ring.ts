/** Symbols of ffi/native/ring.c (C signature beside each). */
export const ringSymbols = {} as const satisfies Deno.ForeignLibraryInterface;

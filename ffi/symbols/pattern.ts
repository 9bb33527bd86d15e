/** Symbols of ffi/native/pattern.c (C signature beside each). */
export const patternSymbols = {} as const satisfies Deno.ForeignLibraryInterface;

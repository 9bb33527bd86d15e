/**
 * The one FFI symbols table of the native shim, assembled from one section per C file so each
 * section sits beside the code it describes. Every entry carries its C signature as a comment.
 */
import { commonSymbols } from "./symbols/common.ts";

export const symbols = {
  ...commonSymbols,
} as const satisfies Deno.ForeignLibraryInterface;

export type SmxSymbols = typeof symbols;

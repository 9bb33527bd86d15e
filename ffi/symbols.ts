/**
 * The one FFI symbols table of the native shim, assembled from one section per C file so each
 * section sits beside the code it describes. Every entry carries its C signature as a comment.
 */
import { commonSymbols } from "./symbols/common.ts";
import { limitsSymbols } from "./symbols/limits.ts";
import { ringSymbols } from "./symbols/ring.ts";
import { patternSymbols } from "./symbols/pattern.ts";
import { encoderSymbols } from "./symbols/encoder.ts";
import { jpegSymbols } from "./symbols/jpeg.ts";

export const symbols = {
  ...commonSymbols,
  ...limitsSymbols,
  ...ringSymbols,
  ...patternSymbols,
  ...encoderSymbols,
  ...jpegSymbols,
} as const satisfies Deno.ForeignLibraryInterface;

export type SmxSymbols = typeof symbols;

/**
 * The FFI symbols tables of the native shim, assembled from one section per C file so each
 * section sits beside the code it describes. Every entry carries its C signature as a comment.
 *
 * One table per platform, because Deno.dlopen fails when a library lacks any symbol it is asked
 * for: libsmx.so (Linux) has the frame ring, the pattern sender and the libavcodec/TurboJPEG
 * encoders; smx.dll (Windows) has the Spout receiver and the Windows encoder. Both have the
 * portable modules (common, limits, stamp). `native()` is typed with both tables: a wrapper of a
 * platform's module checks `Deno.build.os` before it calls one of its symbols.
 */
import { commonSymbols } from "./symbols/common.ts";
import { limitsSymbols } from "./symbols/limits.ts";
import { ringSymbols } from "./symbols/ring.ts";
import { patternSymbols } from "./symbols/pattern.ts";
import { stampSymbols } from "./symbols/stamp.ts";
import { encoderSymbols } from "./symbols/encoder.ts";
import { jpegSymbols } from "./symbols/jpeg.ts";
import { spoutSymbols } from "./symbols/spout.ts";
import { winEncoderSymbols } from "./symbols/win_encoder.ts";

/** libsmx.so: every ffi/native/*.c. */
export const linuxSymbols = {
  ...commonSymbols,
  ...limitsSymbols,
  ...ringSymbols,
  ...patternSymbols,
  ...stampSymbols,
  ...encoderSymbols,
  ...jpegSymbols,
} as const satisfies Deno.ForeignLibraryInterface;

/** smx.dll: the portable files of ffi/native/ plus ffi/native/win/*.c. */
export const windowsSymbols = {
  ...commonSymbols,
  ...limitsSymbols,
  ...stampSymbols,
  ...spoutSymbols,
  ...winEncoderSymbols,
} as const satisfies Deno.ForeignLibraryInterface;

export type SmxSymbols = typeof linuxSymbols & typeof windowsSymbols;

/** The table of the platform this runs on (typed with both: see above). */
export function symbolsFor(os: typeof Deno.build.os): SmxSymbols {
  return (os === "windows" ? windowsSymbols : linuxSymbols) as SmxSymbols;
}

export const symbols: SmxSymbols = symbolsFor(Deno.build.os);

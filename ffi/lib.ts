/**
 * Loads the native shim once per process.
 *
 * Where it comes from, first match wins:
 * 1. `SMX_SHIM_PATH`: an explicit path (a local debug or sanitizer build);
 * 2. `ffi/native/build/libsmx.so` (`smx.dll` on Windows) beside this module (a source checkout
 *    after `deno task build:native`);
 * 3. inside a `deno compile`d binary the library is embedded with a manifest; dlopen cannot read
 *    from the binary, so it is copied to a per-user cache directory first, checked by SHA-256
 *    (server/release/shim_cache.ts).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorFor } from "./errors.ts";
import {
  EMBEDDED_SHIM_DIR,
  type ExtractedShim,
  extractShim,
  smxCacheRoot,
} from "../server/release/shim_cache.ts";
import { type SmxSymbols, symbols } from "./symbols.ts";

let lib: Deno.DynamicLibrary<SmxSymbols> | undefined;

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Path of the library to dlopen, extracting the embedded copy when running compiled. */
export function shimPath(): string {
  const override = Deno.env.get("SMX_SHIM_PATH");
  if (override) {
    if (!exists(override)) throw new Error(`SMX_SHIM_PATH=${override}: no such file`);
    return override;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const local = join(
    here,
    "native",
    "build",
    Deno.build.os === "windows" ? "smx.dll" : "libsmx.so",
  );
  if (isCompiled()) return extractEmbeddedShim().path;
  if (exists(local)) return local;
  throw new Error(
    `native shim not built: ${local} is missing. Run \`deno task build:native\` ` +
      "(it names any missing system package), or set SMX_SHIM_PATH.",
  );
}

function isCompiled(): boolean {
  // deno compile sets Deno.build.standalone (2.x) — fall back to the execPath heuristic.
  // deno-lint-ignore no-explicit-any
  const standalone = (Deno.build as any).standalone;
  return standalone === true;
}

let extracted: ExtractedShim | undefined;

/** Compiled binaries: the embedded shim, copied to the per-user cache once per process. */
function extractEmbeddedShim(): ExtractedShim {
  extracted ??= extractShim(fileURLToPath(EMBEDDED_SHIM_DIR), smxCacheRoot());
  return extracted;
}

/** For compiled binaries: extract (and check) the shim now, so a broken one fails at start-up
 * with its reason. Returns what was done; undefined when not compiled or SMX_SHIM_PATH is set. */
export function prepareEmbeddedShim(): Promise<ExtractedShim | undefined> {
  if (!isCompiled() || Deno.env.get("SMX_SHIM_PATH")) return Promise.resolve(undefined);
  try {
    return Promise.resolve(extractEmbeddedShim());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The shim's symbols, loading the library on first use. */
export function native(): SmxSymbols extends Deno.ForeignLibraryInterface
  ? Deno.DynamicLibrary<SmxSymbols>["symbols"]
  : never {
  lib ??= Deno.dlopen(shimPath(), symbols);
  return lib.symbols;
}

/** The calling thread's last shim error as a typed error (for synchronous calls only). */
export function lastError(fallbackCode = -1) {
  const n = native();
  const code = n.smx_last_error_code() || fallbackCode;
  const msg = Deno.UnsafePointerView.getCString(n.smx_last_error()!);
  return errorFor(code, msg);
}

/** Throws the typed error for a negative status from a synchronous call; returns it otherwise. */
export function check(status: number): number {
  if (status < 0) throw lastError(status);
  return status;
}

/** Wall-clock µs since the epoch, from the same clock frame stamps use. */
export function nowUs(): bigint {
  return native().smx_now_us() as bigint;
}

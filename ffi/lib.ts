/**
 * Loads the native shim once per process.
 *
 * Where it comes from, first match wins:
 * 1. `SMX_SHIM_PATH`: an explicit path (a local debug or sanitizer build);
 * 2. `ffi/native/build/libsmx.so` beside this module (a source checkout after
 *    `deno task build:native`);
 * 3. inside a `deno compile`d binary the library is embedded; dlopen cannot read from the binary,
 *    so it is copied to a per-user cache directory first (keyed by content hash).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { homedir } from "node:os";
import { errorFor } from "./errors.ts";
import { type SmxSymbols, symbols } from "./symbols.ts";

let lib: Deno.DynamicLibrary<SmxSymbols> | undefined;

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Path of the library to dlopen, extracting the embedded copy when running compiled. */
export function shimPath(): string {
  const override = Deno.env.get("SMX_SHIM_PATH");
  if (override) {
    if (!exists(override)) throw new Error(`SMX_SHIM_PATH=${override}: no such file`);
    return override;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const local = join(here, "native", "build", "libsmx.so");
  if (exists(local) && !isCompiled()) return local;
  if (isCompiled()) return extracted!;
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

let extracted: string | undefined;

/** For compiled binaries: copy the embedded shim to the cache so dlopen can map it. */
export async function prepareEmbeddedShim(): Promise<void> {
  if (!isCompiled() || Deno.env.get("SMX_SHIM_PATH")) return;
  const embedded = new URL("./native/build/libsmx.so", import.meta.url);
  const bytes = await Deno.readFile(embedded);
  const hash = (await sha256Hex(bytes)).slice(0, 16);
  const cacheRoot = Deno.env.get("XDG_CACHE_HOME") ?? join(homedir(), ".cache");
  const dir = join(cacheRoot, "smx");
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, `libsmx-${hash}.so`);
  if (!exists(path)) {
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.writeFile(tmp, bytes, { mode: 0o755 });
    await Deno.rename(tmp, path);
  }
  extracted = path;
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

/**
 * The native shim of a compiled binary: embedded (deno compile --include) with a manifest, and
 * copied to a per-user cache before dlopen, because dlopen cannot map a file inside the binary.
 *
 *   Linux    $XDG_CACHE_HOME/smx/shim/<sha256>/libsmx.so   (~/.cache when XDG_CACHE_HOME is unset)
 *   Windows  %LOCALAPPDATA%\smx\shim\<sha256>\smx.dll
 *
 * The embedded copy is checked against its manifest first (a mismatch is a broken binary: a clear
 * error, nothing is written). A cached copy is used only when its size and SHA-256 match; anything
 * else there (truncated, tampered, half-written) is replaced by writing a temporary file beside it
 * and renaming it over, so a concurrent start never loads a partial file.
 */
import { basename, extname, join } from "node:path";
import { homedir } from "node:os";
import { MANIFEST_NAME, type ManifestEntry, mismatch, parseManifest } from "./manifest.ts";

/** Where a release binary's embedded files sit, relative to this module (see scripts/release). */
export const EMBED_DIR = new URL("../../dist/embed/", import.meta.url);
export const EMBEDDED_SHIM_DIR = new URL("shim/", EMBED_DIR);

export interface ExtractedShim {
  /** The file to dlopen. */
  path: string;
  sha256: string;
  /** written: first run; reused: the cached copy matched; replaced: a bad cached copy was. */
  action: "written" | "reused" | "replaced";
  /** Why a cached copy was replaced ("" otherwise). */
  why: string;
}

/** smx's per-user cache directory for this OS (the shim goes to its `shim/` subdirectory). */
export function smxCacheRoot(
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
  os: typeof Deno.build.os = Deno.build.os,
): string {
  if (os === "windows") {
    const local = env("LOCALAPPDATA") || join(env("USERPROFILE") || homedir(), "AppData", "Local");
    return join(local, "smx");
  }
  const xdg = env("XDG_CACHE_HOME");
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
  return join(xdg && xdg.startsWith("/") ? xdg : join(env("HOME") || homedir(), ".cache"), "smx");
}

function readOrNull(path: string): Uint8Array | null {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Reads and checks the embedded shim's manifest and bytes; throws what is wrong. */
export function readEmbeddedShim(dir: string): { entry: ManifestEntry; bytes: Uint8Array } {
  const manifestPath = join(dir, MANIFEST_NAME);
  const text = readOrNull(manifestPath);
  const rebuild = "this binary is incomplete or damaged: build it again with `deno task compile`";
  if (!text) throw new Error(`embedded shim manifest ${manifestPath} is missing: ${rebuild}`);
  const m = parseManifest(new TextDecoder().decode(text), manifestPath);
  const entry = m.files[0];
  if (m.kind !== "shim" || m.files.length !== 1 || basename(entry.path) !== entry.path) {
    throw new Error(`${manifestPath}: expected one shim file name, got ${JSON.stringify(m.files)}`);
  }
  const bytes = readOrNull(join(dir, entry.path));
  if (!bytes) throw new Error(`embedded shim ${entry.path} is missing from ${dir}: ${rebuild}`);
  const why = mismatch(entry, bytes);
  if (why) {
    throw new Error(`embedded shim ${entry.path} does not match its manifest (${why}): ${rebuild}`);
  }
  return { entry, bytes };
}

/** Copies the embedded shim in `embeddedDir` to `<cacheRoot>/shim/<sha256>/`, see above. */
export function extractShim(embeddedDir: string, cacheRoot: string): ExtractedShim {
  const { entry, bytes } = readEmbeddedShim(embeddedDir);
  const dir = join(cacheRoot, "shim", entry.sha256);
  const target = join(dir, entry.path);
  const cached = readOrNull(target);
  const why = cached ? mismatch(entry, cached) : "";
  if (cached && !why) return { path: target, sha256: entry.sha256, action: "reused", why: "" };
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = `${target}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  Deno.writeFileSync(tmp, bytes, { mode: 0o755 });
  let path = target;
  try {
    Deno.renameSync(tmp, target);
  } catch (e) {
    // Windows: a bad copy still mapped by another running smx cannot be replaced; use a name of
    // our own beside it (checked like any other copy next time).
    path = join(
      dir,
      `${basename(entry.path, extname(entry.path))}-${Deno.pid}${extname(entry.path)}`,
    );
    try {
      Deno.renameSync(tmp, path);
    } catch {
      try {
        Deno.removeSync(tmp);
      } catch { /* already gone */ }
      throw new Error(`cannot write the shim to ${target}: ${(e as Error).message}`);
    }
  }
  return { path, sha256: entry.sha256, action: cached ? "replaced" : "written", why };
}

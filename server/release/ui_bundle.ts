/**
 * The UI bundle of a compiled binary: embedded as plain files under dist/embed/ui/ with a
 * manifest (path as served, size, SHA-256). There is no esbuild inside the binary, so at
 * start-up the bundle must be complete: every file the manifest lists, with its bytes, and every
 * file the pages and scripts reference (index.html's script, style and preloads; each script's
 * static and dynamic imports of chunks; the worker URLs) must be in it.
 */
import { join, posix } from "node:path";
import { MANIFEST_NAME, mismatch, parseManifest } from "./manifest.ts";
import { EMBED_DIR } from "./shim_cache.ts";

export const EMBEDDED_UI_DIR = new URL("ui/", EMBED_DIR);

const HTML_REF = /(?:src|href)="(\/assets\/[^"?#]+)/g;
const JS_IMPORT = /(?:\bfrom|\bimport\s*\(?)\s*["'](\.{1,2}\/[^"']+\.js)["']/g;
const JS_ASSET_URL = /["'](\/assets\/[^"'?#]+\.(?:js|css))["']/g;

/** Each file's references to other files of the bundle (paths as served), from its text. */
export function referencedAssets(files: Map<string, Uint8Array>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const dec = new TextDecoder();
  for (const [path, bytes] of files) {
    const refs = new Set<string>();
    if (path.endsWith(".html")) {
      for (const m of dec.decode(bytes).matchAll(HTML_REF)) refs.add(m[1]);
    } else if (path.endsWith(".js")) {
      const text = dec.decode(bytes);
      for (const m of text.matchAll(JS_IMPORT)) {
        refs.add(posix.normalize(posix.join(posix.dirname(path), m[1])));
      }
      for (const m of text.matchAll(JS_ASSET_URL)) refs.add(m[1]);
    }
    if (refs.size) out.set(path, [...refs].sort());
  }
  return out;
}

/** What a bundle lacks: "/assets/x.js (referenced by /index.html)" lines; [] when complete. */
export function missingReferences(files: Map<string, Uint8Array>): string[] {
  const missing: string[] = [];
  if (!files.has("/index.html")) missing.push("/index.html");
  for (const [from, refs] of referencedAssets(files)) {
    for (const r of refs) if (!files.has(r)) missing.push(`${r} (referenced by ${from})`);
  }
  return missing;
}

/**
 * Reads the embedded bundle in `dir` and checks it against its manifest and its own references.
 * Throws one error naming everything that is missing or wrong.
 */
export function loadEmbeddedUi(dir: string): Map<string, Uint8Array> {
  const manifestPath = join(dir, MANIFEST_NAME);
  let text: string;
  try {
    text = Deno.readTextFileSync(manifestPath);
  } catch {
    throw new Error(
      `UI bundle manifest ${manifestPath} is missing: this binary has no UI; ` +
        "build it again with `deno task compile`",
    );
  }
  const m = parseManifest(text, manifestPath);
  const files = new Map<string, Uint8Array>();
  const problems: string[] = [];
  for (const e of m.files) {
    if (!e.path.startsWith("/") || e.path.split("/").includes("..")) {
      problems.push(`${e.path}: not a served path`);
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(join(dir, e.path));
    } catch {
      problems.push(`${e.path}: missing`);
      continue;
    }
    const why = mismatch(e, bytes);
    if (why) problems.push(`${e.path}: ${why}`);
    else files.set(e.path, bytes);
  }
  if (!problems.length) {
    problems.push(...missingReferences(files).map((r) => `${r}: not in the bundle`));
  }
  if (problems.length) {
    throw new Error(
      `UI bundle in ${dir} is incomplete (${problems.length} problem(s)): ${problems.join("; ")}` +
        " — build the binary again with `deno task compile`",
    );
  }
  return files;
}

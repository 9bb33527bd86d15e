/**
 * Staging for `deno compile`: what the binary embeds, written under one directory with a
 * manifest per part (server/release/manifest.ts):
 *
 *   <dir>/ui/manifest.json + every file the UI build returns (index.html, app.js, app.css, every
 *                            code-split chunk, the workers, the pairing page), paths as served
 *   <dir>/shim/manifest.json + the platform's shim (libsmx.so or smx.dll)
 *
 * server/release/ui_bundle.ts and shim_cache.ts read them back at start-up.
 */
import { basename, dirname, join } from "node:path";
import { entryFor, type Manifest, MANIFEST_NAME } from "../../server/release/manifest.ts";
import { missingReferences } from "../../server/release/ui_bundle.ts";

function writeManifest(dir: string, m: Manifest): void {
  Deno.writeTextFileSync(join(dir, MANIFEST_NAME), JSON.stringify(m, null, 1) + "\n");
}

function fresh(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.mkdirSync(dir, { recursive: true });
}

/** The UI as served: the main bundle (with its chunks and workers) and the pairing page. */
export async function buildUiFiles(): Promise<Map<string, Uint8Array>> {
  const { buildUi } = await import("../../ui/build.ts");
  const { buildPairPage } = await import("../../ui/pair/build.ts");
  const files = new Map([
    ...await buildUi({ minify: true }),
    ...await buildPairPage({ minify: true }),
  ]);
  const esbuild = await import("esbuild");
  await esbuild.stop(); // its service process would keep a script (or a test) alive
  return files;
}

/** Writes `files` to `<dir>/ui/` with their manifest; refuses a bundle that references a file
 * it does not contain (a chunk the UI build returned but this step would have dropped). */
export function stageUi(dir: string, files: Map<string, Uint8Array>, target?: string): Manifest {
  const missing = missingReferences(files);
  if (missing.length) throw new Error(`UI build is incomplete: ${missing.join("; ")}`);
  const ui = join(dir, "ui");
  fresh(ui);
  const m: Manifest = { kind: "ui", target, files: [] };
  for (const [path, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    if (!path.startsWith("/") || path.split("/").includes("..")) {
      throw new Error(`UI build returned a path that cannot be served: ${path}`);
    }
    const out = join(ui, path);
    Deno.mkdirSync(dirname(out), { recursive: true });
    Deno.writeFileSync(out, bytes);
    m.files.push(entryFor(path, bytes));
  }
  writeManifest(ui, m);
  return m;
}

/** Copies the shim at `shimPath` to `<dir>/shim/` with its manifest. */
export function stageShim(dir: string, shimPath: string, target?: string): Manifest {
  const bytes = Deno.readFileSync(shimPath);
  const shim = join(dir, "shim");
  fresh(shim);
  const name = basename(shimPath);
  Deno.writeFileSync(join(shim, name), bytes);
  const m: Manifest = { kind: "shim", target, files: [entryFor(name, bytes)] };
  writeManifest(shim, m);
  return m;
}

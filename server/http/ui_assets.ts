/**
 * The UI bundle as served: built in memory with esbuild from ui/ (and rebuilt when ui/ changes
 * in dev), or read from ui/dist/ when that exists. A compiled binary has no esbuild: it serves
 * the bundle `deno task compile` embedded (dist/embed/ui, checked by server/release/ui_bundle.ts). The LAN pairing page (ui/pair/, its own small bundle) is
 * built beside the main UI and served from the same table.
 */
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EMBEDDED_UI_DIR, loadEmbeddedUi } from "../release/ui_bundle.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".map": "application/json",
};

export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

const uiDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "ui");

async function etagOf(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-1", body));
  return `"${[...d.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

async function toAssets(files: Map<string, Uint8Array>): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  for (const [path, bytes] of files) {
    const body = new Uint8Array(bytes);
    out.set(path, {
      body,
      type: TYPES[extname(path)] ?? "application/octet-stream",
      etag: await etagOf(body),
    });
  }
  return out;
}

async function readDist(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(dir, rel))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(r);
      else files.set(r, await Deno.readFile(join(dir, r)));
    }
  };
  await walk("");
  return files;
}

async function buildPair(): Promise<Map<string, Uint8Array>> {
  const { buildPairPage } = await import("../../ui/pair/build.ts");
  return await buildPairPage({ minify: true });
}

export class UiAssets {
  #assets = new Map<string, Asset>();
  #watcher?: Deno.FsWatcher;
  error = "";

  /** Loads ui/dist when present (release), else builds ui/ in memory (dev, optionally watching). */
  static async load(opts: { watch?: boolean; log?: (m: string) => void } = {}): Promise<UiAssets> {
    const a = new UiAssets();
    // deno-lint-ignore no-explicit-any
    if ((Deno.build as any).standalone === true) {
      // A compiled binary: the bundle embedded by `deno task compile`, checked complete (throws
      // naming what is missing).
      a.#assets = await toAssets(loadEmbeddedUi(fileURLToPath(EMBEDDED_UI_DIR)));
      return a;
    }
    const dist = join(uiDir, "dist");
    let hasDist = false;
    try {
      hasDist = Deno.statSync(join(dist, "index.html")).isFile;
    } catch { /* no prebuilt bundle */ }
    if (hasDist && !opts.watch) {
      const files = await readDist(dist);
      if (!files.has("/pair.html")) {
        // A ui/dist written by a build that predates the pairing page: build that page now
        // (impossible inside a compiled binary, which then serves no /pair: said once here).
        try {
          for (const [p, b] of await buildPair()) files.set(p, b);
        } catch (e) {
          opts.log?.(
            `pairing page missing from ui/dist and not buildable: ${(e as Error).message}`,
          );
        }
      }
      a.#assets = await toAssets(files);
      return a;
    }
    await a.#rebuild(opts.log);
    if (opts.watch) a.#watch(opts.log);
    return a;
  }

  async #rebuild(log?: (m: string) => void): Promise<void> {
    const t0 = performance.now();
    try {
      const { buildUi } = await import("../../ui/build.ts");
      const files = await buildUi({ minify: true });
      for (const [p, b] of await buildPair()) files.set(p, b);
      this.#assets = await toAssets(files);
      this.error = "";
      log?.(`ui built in ${Math.round(performance.now() - t0)} ms`);
    } catch (e) {
      this.error = String((e as Error).message ?? e);
      log?.(`ui build failed: ${this.error}`);
    }
  }

  #watch(log?: (m: string) => void): void {
    this.#watcher = Deno.watchFs(uiDir);
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      for await (const ev of this.#watcher!) {
        if (ev.paths.every((p) => p.includes(`${uiDir}/dist`))) continue;
        clearTimeout(timer);
        timer = setTimeout(() => this.#rebuild(log), 50);
      }
    })().catch(() => {});
  }

  get(path: string): Asset | undefined {
    return this.#assets.get(path === "/" ? "/index.html" : path);
  }

  /** Total bytes and gzip size, for the benchmark's bundle report. */
  files(): Map<string, Asset> {
    return this.#assets;
  }

  close(): void {
    this.#watcher?.close();
  }
}

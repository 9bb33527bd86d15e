/**
 * Builds the UI in memory with esbuild: `/index.html`, `/assets/app.js`, `/assets/app.css`
 * (index.html references the assets with a content hash in the query, so a plain `no-cache` +
 * ETag policy is enough). Preact and signals are the only dependencies of the page bundle;
 * `/assets/wasm-h264-worker.js` (tinyh264) is loaded only by pages without WebCodecs.
 *
 *   deno run -A ui/build.ts [outdir]   writes the files (e.g. ui/dist) and prints their sizes
 */
import * as esbuild from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const uiDir = dirname(fileURLToPath(import.meta.url));

async function shortHash(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return [...d.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function buildUi(
  opts: { minify?: boolean; sourcemap?: boolean } = {},
): Promise<Map<string, Uint8Array>> {
  const minify = opts.minify ?? true;
  const result = await esbuild.build({
    absWorkingDir: uiDir,
    entryPoints: {
      app: join(uiDir, "main.tsx"),
      "app-css": join(uiDir, "styles.css"),
      // The WASM H.264 decoder's worker (tinyh264, WASM inlined): loaded only by pages without
      // WebCodecs, from WASM_H264_WORKER_URL (ui/video/wasm_h264/protocol.ts).
      "wasm-h264-worker": join(uiDir, "video", "wasm_h264", "worker.ts"),
    },
    outdir: join(uiDir, "dist", "assets"),
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    sourcemap: opts.sourcemap ? "inline" : false,
    legalComments: "none",
    jsx: "automatic",
    jsxImportSource: "preact",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  let js: Uint8Array | undefined;
  let css: Uint8Array | undefined;
  let worker: Uint8Array | undefined;
  for (const f of result.outputFiles) {
    if (f.path.endsWith("/app.js")) js = f.contents;
    else if (f.path.endsWith("/app-css.css")) css = f.contents;
    else if (f.path.endsWith("/wasm-h264-worker.js")) worker = f.contents;
  }
  if (!js || !css || !worker) throw new Error("esbuild produced no app.js/app.css/worker");
  const template = await Deno.readTextFile(join(uiDir, "index.html"));
  const html = template
    .replace("__HASH_JS__", await shortHash(js))
    .replace("__HASH_CSS__", await shortHash(css));
  return new Map<string, Uint8Array>([
    ["/index.html", new TextEncoder().encode(html)],
    ["/assets/app.js", js],
    ["/assets/app.css", css],
    ["/assets/wasm-h264-worker.js", worker],
  ]);
}

/** Gzip size of some bytes (for the bundle budget: ≤ 60 KB gzipped). */
export async function gzipSize(bytes: Uint8Array): Promise<number> {
  const s = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(s).arrayBuffer()).byteLength;
}

if (import.meta.main) {
  const files = await buildUi({ minify: true });
  const out = Deno.args[0];
  let total = 0;
  for (const [path, bytes] of files) {
    const gz = await gzipSize(bytes);
    total += gz;
    console.log(
      `${path.padEnd(18)} ${String(bytes.byteLength).padStart(7)} B  ${
        String(gz).padStart(6)
      } B gz`,
    );
    if (out) {
      const p = join(out, path);
      await Deno.mkdir(dirname(p), { recursive: true });
      await Deno.writeFile(p, bytes);
    }
  }
  console.log(`total ${total} B gzipped`);
  await esbuild.stop();
}

/**
 * Builds the UI in memory with esbuild: `/index.html`, `/assets/app.js`, `/assets/app.css`
 * (index.html references the assets with a content hash in the query, so a plain `no-cache` +
 * ETag policy is enough). Preact and signals are the only dependencies of the page bundle;
 * `/assets/wasm-h264-worker.js` (tinyh264) is loaded only by pages without WebCodecs. Code
 * splitting puts the WAN reach (livekit-client, centrifuge) in `/assets/chunks/*` files a local or
 * LAN page never loads, and `/assets/wan-receive-worker.js` is the WAN receiver's worker.
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

/** Where code-split chunks go (content-hashed names: immutable). */
const CHUNK_DIR = "assets/chunks";

export async function buildUi(
  opts: { minify?: boolean; sourcemap?: boolean } = {},
): Promise<Map<string, Uint8Array>> {
  const minify = opts.minify ?? true;
  const common: esbuild.BuildOptions = {
    absWorkingDir: uiDir,
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
  };
  // The page, split: the WAN reach's code (livekit-client, centrifuge; ui/transport/wan/) is a
  // dynamic import() that only a WAN page makes, so it lands in its own chunk and a local or LAN
  // page never downloads it. Code both share goes to a chunk the page preloads.
  const page = await esbuild.build({
    ...common,
    entryPoints: { app: join(uiDir, "main.tsx"), "app-css": join(uiDir, "styles.css") },
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
  });
  // Workers are built apart, each in one self-contained file (no shared chunks to import):
  //  - the WASM H.264 decoder's (tinyh264, WASM inlined): loaded only by pages without
  //    WebCodecs, from WASM_H264_WORKER_URL (ui/video/wasm_h264/protocol.ts);
  //  - the WAN receiver's RTCRtpScriptTransform (ui/transport/wan/receive_transform_worker.ts):
  //    loaded only by WAN pages, from WAN_RECEIVE_WORKER_URL.
  const workers = await esbuild.build({
    ...common,
    entryPoints: {
      "wasm-h264-worker": join(uiDir, "video", "wasm_h264", "worker.ts"),
      "wan-receive-worker": join(uiDir, "transport", "wan", "receive_transform_worker.ts"),
    },
  });
  const assetsDir = join(uiDir, "dist", "assets");
  const files = new Map<string, Uint8Array>();
  let js: Uint8Array | undefined;
  let css: Uint8Array | undefined;
  for (const f of [...page.outputFiles ?? [], ...workers.outputFiles ?? []]) {
    if (!f.path.startsWith(assetsDir + "/")) throw new Error(`esbuild wrote ${f.path}`);
    const rel = f.path.slice(assetsDir.length + 1);
    if (rel === "app.js") js = f.contents;
    else if (rel === "app-css.css") css = f.contents;
    else if (rel.endsWith(".js")) files.set(`/assets/${rel}`, f.contents);
  }
  if (!js || !css || !files.has("/assets/wasm-h264-worker.js")) {
    throw new Error("esbuild produced no app.js/app.css/worker");
  }
  // The chunks app.js imports statically: preloaded by index.html (no request waterfall).
  const appMeta = Object.entries(page.metafile!.outputs).find(([p]) => p.endsWith("/app.js"));
  const preload = (appMeta?.[1].imports ?? [])
    .filter((i) => i.kind === "import-statement")
    .map((i) => `/${i.path.slice(i.path.lastIndexOf(CHUNK_DIR))}`)
    .map((href) => `<link rel="modulepreload" href="${href}">`)
    .join("\n    ");
  const template = await Deno.readTextFile(join(uiDir, "index.html"));
  const html = template
    .replace("__HASH_JS__", await shortHash(js))
    .replace("__HASH_CSS__", await shortHash(css))
    .replace("<!--__PRELOAD__-->", preload);
  return new Map<string, Uint8Array>([
    ["/index.html", new TextEncoder().encode(html)],
    ["/assets/app.js", js],
    ["/assets/app.css", css],
    ...files,
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

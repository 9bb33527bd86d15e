import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { buildUi, gzipSize } from "./build.ts";

Deno.test("UI bundle builds in memory; a local page's first load stays under 60 KB gzipped", async () => {
  try {
    const files = await buildUi({ minify: true });
    const paths = [...files.keys()].sort();
    const chunks = paths.filter((p) => p.startsWith("/assets/chunks/"));
    assert.deepEqual(paths.filter((p) => !p.startsWith("/assets/chunks/")), [
      "/assets/app.css",
      "/assets/app.js",
      "/assets/wan-receive-worker.js",
      "/assets/wasm-h264-worker.js",
      "/index.html",
    ]);
    for (const c of chunks) assert.match(c, /^\/assets\/chunks\/[\w-]+-[A-Z0-9]{8}\.js$/);
    const html = new TextDecoder().decode(files.get("/index.html"));
    assert.match(html, /\/assets\/app\.js\?v=[0-9a-f]{12}/);
    assert.doesNotMatch(html, /__HASH_|__PRELOAD__/);
    assert.doesNotMatch(html, /<script(?![^>]*src=)/); // no inline script (the CSP forbids it)
    // What a local or LAN page loads: the page, app.js and the chunks index.html preloads (those
    // app.js imports statically). The WAN chunk is not among them.
    const preloaded = [...html.matchAll(/rel="modulepreload" href="([^"]+)"/g)].map((m) => m[1]);
    for (const p of preloaded) assert.ok(files.has(p), `${p} is built`);
    const wan = chunks.filter((c) => /\/wan-[A-Z0-9]{8}\.js$/.test(c));
    assert.equal(wan.length, 1, `one WAN chunk in ${chunks.join(", ")}`);
    assert.ok(!preloaded.includes(wan[0]), "the WAN chunk is not preloaded");
    const appJs = new TextDecoder().decode(files.get("/assets/app.js"));
    const wanName = wan[0].split("/").pop()!;
    assert.doesNotMatch(appJs, new RegExp(`^import[^;]*${wanName}`, "m"), "no static import");
    assert.match(appJs, new RegExp(`import\\(["'][^"']*${wanName}["']\\)`), "a dynamic import");
    let gz = 0;
    for (const p of ["/index.html", "/assets/app.js", "/assets/app.css", ...preloaded]) {
      gz += await gzipSize(files.get(p)!);
    }
    assert.ok(gz <= 60 * 1024, `a local page's first load is ${gz} B gzipped`);
    // The WASM H.264 worker loads only on pages without WebCodecs; its WASM is inlined (base64).
    const worker = await gzipSize(files.get("/assets/wasm-h264-worker.js")!);
    assert.ok(worker <= 80 * 1024, `WASM H.264 worker is ${worker} B gzipped`);
    // The WAN reach's code (livekit-client, centrifuge), loaded only by WAN pages.
    const wanGz = await gzipSize(files.get(wan[0])!);
    assert.ok(wanGz <= 240 * 1024, `WAN chunk is ${wanGz} B gzipped`);
    const rx = await gzipSize(files.get("/assets/wan-receive-worker.js")!);
    assert.ok(rx <= 8 * 1024, `WAN receive worker is ${rx} B gzipped`);
    const rxJs = new TextDecoder().decode(files.get("/assets/wan-receive-worker.js"));
    assert.doesNotMatch(rxJs, /^import /m, "the receive worker is one self-contained file");
  } finally {
    await esbuild.stop();
  }
});

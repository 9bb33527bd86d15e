import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { buildUi, gzipSize } from "./build.ts";

Deno.test("UI bundle builds in memory and stays under 60 KB gzipped", async () => {
  try {
    const files = await buildUi({ minify: true });
    assert.deepEqual([...files.keys()].sort(), [
      "/assets/app.css",
      "/assets/app.js",
      "/assets/wasm-h264-worker.js",
      "/index.html",
    ]);
    const html = new TextDecoder().decode(files.get("/index.html"));
    assert.match(html, /\/assets\/app\.js\?v=[0-9a-f]{12}/);
    assert.doesNotMatch(html, /__HASH_/);
    assert.doesNotMatch(html, /<script(?![^>]*src=)/); // no inline script (the CSP forbids it)
    let gz = 0;
    for (const [path, b] of files) {
      if (path !== "/assets/wasm-h264-worker.js") gz += await gzipSize(b);
    }
    assert.ok(gz <= 60 * 1024, `bundle is ${gz} B gzipped`);
    // The WASM H.264 worker loads only on pages without WebCodecs; its WASM is inlined (base64).
    const worker = await gzipSize(files.get("/assets/wasm-h264-worker.js")!);
    assert.ok(worker <= 80 * 1024, `WASM H.264 worker is ${worker} B gzipped`);
  } finally {
    await esbuild.stop();
  }
});

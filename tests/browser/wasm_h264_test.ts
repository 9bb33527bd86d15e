/**
 * The WASM H.264 decoder (ui/video/wasm_h264/) in real headless Chromium, on a page that is NOT a
 * secure context (http://smx-lan.test:PORT, mapped to 127.0.0.1 by a host-resolver rule), where
 * VideoDecoder is missing: Constrained Baseline streams from the shim's encoder, decoded in the
 * worker, drawn with 2D drawImage(VideoFrame), and the frame stamp read back off the canvas.
 * Pages under /wasm/ get smx's real CSP; the others the policy before 'wasm-unsafe-eval', which
 * must refuse the WASM.
 *
 * Also prints decode figures (per frame p50/p95 and sequential throughput at 640x360 and
 * 1280x720). Longer runs for measuring:
 *   SMX_WASM_H264_FRAMES=600 deno test -A tests/browser/wasm_h264_test.ts
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { type EncodedFrame, H264Encoder, type H264Profile } from "../../ffi/encoder.ts";
import { writeStamp } from "../../protocol/stamp.ts";
import { buildUi } from "../../ui/build.ts";
import { CONTENT_SECURITY_POLICY } from "../../server/http/security_headers.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const HOST = "smx-lan.test";
/** Frames of the measured 640x360 and 1280x720 streams. */
const FRAMES = Number(Deno.env.get("SMX_WASM_H264_FRAMES") ?? 120);

/** smx's policy before the WASM decoder: default-src 'self' alone (no script-src). */
const CSP_BEFORE = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; " +
  "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
/** smx's policy now (server/http/security_headers.ts), with `script-src 'self'
 * 'wasm-unsafe-eval'` (compiling WebAssembly, no JS eval). Served on pages under /wasm/ and
 * their worker. */
const CSP_WASM = CONTENT_SECURITY_POLICY;

// ---- streams from the shim ----------------------------------------------------------------

/** A moving scene in BGRA: gradient drifting in colour, shapes on Lissajous paths, a fine
 * scrolling band (like bench:encode's). */
function scene(w: number, h: number, t: number): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(w * h * 4);
  const u32 = new Uint32Array(px.buffer);
  const blue = Math.round(128 + 60 * Math.sin(t * 0.07));
  for (let y = 0; y < h; y++) {
    const g = Math.round((y * 255) / h);
    for (let x = 0; x < w; x++) {
      u32[y * w + x] = 0xff000000 | (Math.round((x * 255) / w) << 16) | (g << 8) | blue;
    }
  }
  const bandY = Math.round(h * 0.7), bandH = Math.round(h / 10);
  for (let y = bandY; y < bandY + bandH; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x + t * 3;
      if (((sx >> 2) * 7 + (y >> 2) * 13) % 11 < 4 && sx % 96 < 80) u32[y * w + x] = 0xfff0f0f0;
    }
  }
  const size = Math.round(h / 9);
  for (let i = 0; i < 8; i++) {
    const cx = Math.round(w / 2 + (w / 2.6) * Math.sin(t * (0.011 + i * 0.003) * 4 + i));
    const cy = Math.round(h / 2 + (h / 2.8) * Math.cos(t * (0.013 + i * 0.002) * 4 + i * 2));
    const colour = 0xff000000 | ((i * 97 + 60) & 255) << 16 | ((i * 53 + 30) & 255) << 8 |
      ((i * 31 + 200) & 255);
    for (let y = Math.max(0, cy - size); y < Math.min(h, cy + size); y++) {
      for (let x = Math.max(0, cx - size); x < Math.min(w, cx + size); x++) {
        u32[y * w + x] = colour;
      }
    }
  }
  return px;
}

interface Stream {
  frames: EncodedFrame[];
  codec: string;
}

/** Encodes n frames stamped with frame numbers first.. ; IDRs at `idrs` (and frame 0). */
async function encode(
  w: number,
  h: number,
  n: number,
  profile: H264Profile,
  first: number,
  idrs: number[] = [],
): Promise<Stream> {
  using enc = await H264Encoder.open({ width: w, height: h, fps: 60, profile });
  const set = Array.from({ length: 16 }, (_, t) => scene(w, h, t));
  const frames: EncodedFrame[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 32;
    const px = set[k < 16 ? k : 31 - k].slice(); // forward, then backward
    const stamp = { frame: first + i, captureUs: 1_760_000_000_000_000 + i * 16_667 };
    writeStamp(px, w, h, stamp, { channels: "bgra" });
    frames.push(await enc.encodeRgba(px, w, h, { ...stamp, forceIdr: idrs.includes(i) }));
  }
  return { frames, codec: enc.codec };
}

/** The harness's container: per access unit u8 keyframe, u32 frame, u32 length, bytes. */
function pack(s: Stream): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.frames.reduce((n, f) => n + 9 + f.data.length, 0));
  const v = new DataView(out.buffer);
  let o = 0;
  for (const f of s.frames) {
    out[o] = f.keyframe ? 1 : 0;
    v.setUint32(o + 1, f.frame, true);
    v.setUint32(o + 5, f.data.length, true);
    out.set(f.data, o + 9);
    o += 9 + f.data.length;
  }
  return out;
}

/**
 * Streams `frames` 1280x720 Baseline frames at 60 fps to a socket, encoding each when it is due
 * (as smx does with an engine's frames: stamped, encoded, sent), answering "key" with an IDR.
 * Message: u8 keyframe, u32 frame, f64 capture µs (wall clock), Annex-B bytes.
 */
async function live(socket: WebSocket, frames: number, set: Uint8Array<ArrayBuffer>[]) {
  using enc = await H264Encoder.open({ width: 1280, height: 720, fps: 60, profile: "baseline" });
  socket.onmessage = (e) => {
    if (e.data === "key") enc.requestIdr();
  };
  const t0 = performance.now();
  for (let i = 0; i < frames && socket.readyState === WebSocket.OPEN; i++) {
    const wait = t0 + (i * 1000) / 60 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const k = i % 64, px = set[k < 32 ? k : 63 - k];
    const captureUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
    writeStamp(px, 1280, 720, { frame: i + 1, captureUs }, { channels: "bgra" });
    const f = await enc.encodeRgba(px, 1280, 720, { frame: i + 1, captureUs });
    const msg = new Uint8Array(13 + f.data.length);
    const v = new DataView(msg.buffer);
    msg[0] = f.keyframe ? 1 : 0;
    v.setUint32(1, f.frame, true);
    v.setFloat64(5, captureUs, true);
    msg.set(f.data, 13);
    socket.send(msg);
  }
  socket.close();
}

// ---- the page -----------------------------------------------------------------------------

/** Runs in the page (bundled by esbuild with the real decoder module). */
const HARNESS = `
import { WasmH264Decoder } from "./ui/video/wasm_h264/decoder.ts";
import { readStamp, stampBandHeight } from "./protocol/stamp.ts";

const prefix = location.pathname.startsWith("/wasm/") ? "/wasm" : "";
const canvas = document.querySelector("canvas");
const ctx = canvas.getContext("2d", { alpha: false, desynchronized: true, willReadFrequently: true });
let dec = null, onFrame = null, keyRequests = 0;

async function load(name) {
  const buf = new Uint8Array(await (await fetch(prefix + "/stream/" + name)).arrayBuffer());
  const v = new DataView(buf.buffer);
  const aus = [];
  for (let o = 0; o < buf.length;) {
    const len = v.getUint32(o + 5, true);
    aus.push({ keyframe: buf[o] === 1, frame: v.getUint32(o + 1, true), data: buf.subarray(o + 9, o + 9 + len) });
    o += 9 + len;
  }
  return aus;
}

function draw(frame, readBack) {
  const t0 = performance.now();
  if (canvas.width !== frame.displayWidth) canvas.width = frame.displayWidth;
  if (canvas.height !== frame.displayHeight) canvas.height = frame.displayHeight;
  ctx.drawImage(frame, 0, 0);
  const size = { coded: [frame.codedWidth, frame.codedHeight], display: [frame.displayWidth, frame.displayHeight] };
  frame.close();
  let stamp = null;
  if (readBack) {
    const band = stampBandHeight(canvas.width);
    const img = ctx.getImageData(0, 0, canvas.width, band);
    stamp = readStamp(new Uint8Array(img.data.buffer), canvas.width, band, { channels: "rgba" });
  }
  return { stamp, size, drawMs: performance.now() - t0 };
}

const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))]; };
const summary = (a) => ({ p50: pct(a, 50), p95: pct(a, 95), max: Math.max(...a) });

globalThis.__wasm = {
  env: () => ({ secure: isSecureContext, videoDecoder: typeof VideoDecoder !== "undefined",
    videoFrame: typeof VideoFrame !== "undefined", origin: location.origin }),
  async start() {
    dec?.close();
    keyRequests = 0;
    const errors = [];
    dec = new WasmH264Decoder({
      workerUrl: prefix + "/assets/wasm-h264-worker.js",
      output: (frame, info) => onFrame ? onFrame(frame, info) : frame.close(),
      requestKeyframe: () => keyRequests++,
      error: (e, info) => errors.push({ message: e.message, ...info }),
    });
    try { await dec.ready; return { ok: true }; }
    catch (e) { return { ok: false, message: String(e.message ?? e), errors }; }
  },
  /** One access unit at a time, each drawn and its stamp read back. */
  async verify(name) {
    const aus = await load(name);
    const out = [];
    for (const au of aus) {
      const got = await new Promise((resolve) => {
        onFrame = (frame) => resolve(draw(frame, true));
        const errs = dec.stats.errors;
        dec.decode({ data: au.data, keyframe: au.keyframe, timestamp: au.frame });
        const poll = setInterval(() => { if (dec.stats.errors > errs) resolve({ error: true }); }, 50);
        const done = resolve; resolve = (v) => { clearInterval(poll); done(v); };
      });
      out.push({ sent: au.frame, ...got });
    }
    onFrame = null;
    return out;
  },
  /** The first \`burst\` access units at once (a stalled network catching up: the decoder's
   * drop rule decides), then the rest of the first \`count\` one by one. */
  async burst(name, count, burst) {
    const aus = (await load(name)).slice(0, count);
    const drawn = [];
    onFrame = (frame) => drawn.push(draw(frame, true).stamp?.frame ?? -1);
    const drain = async () => {
      const t0 = performance.now();
      while (dec.decodeQueueSize > 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    };
    const send = (au) => dec.decode({ data: au.data, keyframe: au.keyframe, timestamp: au.frame });
    const results = aus.slice(0, burst).map(send);
    await drain();
    for (const au of aus.slice(burst)) {
      results.push(send(au));
      await drain();
    }
    onFrame = null;
    return { results, drawn, keyRequests, stats: { ...dec.stats } };
  },
  /** Decode + VideoFrame + drawImage back to back, as fast as the worker goes. */
  async throughput(name) {
    const aus = await load(name);
    const decode = [], copy = [], total = [], drawMs = [], bytes = [], badStamps = [];
    let idx = 0, t0 = 0;
    const done = new Promise((resolve) => {
      onFrame = (frame, info) => {
        const check = idx % 15 === 0; // read back a sample (not timed: they are not counted)
        const d = draw(frame, check);
        if (check && d.stamp?.frame !== aus[idx].frame) badStamps.push([aus[idx].frame, d.stamp?.frame]);
        if (idx > 10 && !check) { // warm-up: the first keyframe, JIT, canvas allocation
          decode.push(info.decodeMs); copy.push(info.copyMs); total.push(info.totalMs); drawMs.push(d.drawMs);
        }
        if (idx === 10) t0 = performance.now();
        if (++idx < aus.length) feed(); else resolve(performance.now() - t0);
      };
    });
    const feed = () => { bytes.push(aus[idx].data.length); dec.decode({ data: aus[idx].data, keyframe: aus[idx].keyframe, timestamp: aus[idx].frame }); };
    feed();
    const ms = await done;
    onFrame = null;
    return { frames: aus.length, fps: (aus.length - 11) / (ms / 1000), decode: summary(decode),
      copy: summary(copy), total: summary(total), draw: summary(drawMs),
      avgBytes: Math.round(bytes.reduce((a, b) => a + b, 0) / bytes.length), badStamps };
  },
  /** A live 60 fps 720p stream over a WebSocket, encoded by the shim while the page decodes:
   * keyframe requests go back to the encoder, like smx's video socket. */
  async live(frames, maxPending) {
    const clockUs = () => (performance.timeOrigin + performance.now()) * 1000;
    const latency = [], total = [], decode = [], drawMs = [];
    let drawn = 0, requests = 0;
    let ws = null;
    const d = new WasmH264Decoder({
      workerUrl: prefix + "/assets/wasm-h264-worker.js",
      maxPending,
      output: (frame, info) => {
        const capture = frame.timestamp;
        const r = draw(frame, false);
        drawn++;
        latency.push((clockUs() - capture) / 1000);
        total.push(info.totalMs);
        decode.push(info.decodeMs);
        drawMs.push(r.drawMs);
      },
      requestKeyframe: () => { requests++; if (ws?.readyState === 1) ws.send("key"); },
    });
    await d.ready;
    ws = new WebSocket("ws://" + location.host + prefix + "/live?frames=" + frames);
    ws.binaryType = "arraybuffer";
    let first = 0, last = 0;
    await new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        const b = new Uint8Array(e.data), v = new DataView(e.data);
        last = performance.now();
        if (!first) first = last;
        d.decode({ data: b.subarray(13), keyframe: b[0] === 1, timestamp: v.getFloat64(5, true) });
      };
      ws.onclose = resolve;
      ws.onerror = () => reject(new Error("live socket failed"));
    });
    const t0 = performance.now();
    while (d.decodeQueueSize > 0 && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    const stats = { ...d.stats };
    d.close();
    const seconds = (last - first) / 1000;
    return { received: stats.submitted, drawn, fpsDrawn: drawn / seconds, keyRequests: requests,
      dropped: stats.dropped, latency: summary(latency), total: summary(total), decode: summary(decode), draw: summary(drawMs) };
  },
};
`;

async function bundleHarness(): Promise<Uint8Array> {
  const r = await esbuild.build({
    stdin: { contents: HARNESS, resolveDir: ROOT, loader: "ts", sourcefile: "harness.ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "silent",
  });
  return r.outputFiles[0].contents;
}

// ---- the test -----------------------------------------------------------------------------

Deno.test({
  name: "WASM H.264 decoder in real Chromium on a plain-HTTP (not secure) origin",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = performance.now();
    const streams = new Map<string, Stream>();
    // 640x360 is 368 lines of macroblocks, cropped by the SPS: exercises visibleRect.
    streams.set("360", await encode(640, 360, 40, "baseline", 1000, [20, 30]));
    streams.set("360m", await encode(640, 360, FRAMES, "baseline", 3000));
    streams.set("720", await encode(1280, 720, FRAMES, "baseline", 5000));
    streams.set("main", await encode(320, 180, 4, "main", 1));
    const liveSet = Array.from({ length: 32 }, (_, t) => scene(1280, 720, t));
    const ui = await buildUi({ minify: true });
    const worker = ui.get("/assets/wasm-h264-worker.js")!;
    const harness = await bundleHarness();
    await esbuild.stop();
    const page = new TextEncoder().encode(
      `<!doctype html><meta charset=utf-8><canvas></canvas><script type=module src="./harness.js"></script>`,
    );
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const url = new URL(req.url);
      const wasm = url.pathname.startsWith("/wasm/");
      const path = wasm ? url.pathname.slice(5) : url.pathname;
      if (path === "/live") {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.binaryType = "arraybuffer";
        socket.onopen = () => live(socket, Number(url.searchParams.get("frames")), liveSet);
        return response;
      }
      const stream = /^\/stream\/(\w+)$/.exec(path);
      const [body, type] = path === "/" || path === "/index.html"
        ? [page, "text/html; charset=utf-8"]
        : path === "/harness.js"
        ? [harness, "text/javascript"]
        : path === "/assets/wasm-h264-worker.js"
        ? [worker, "text/javascript"]
        : stream && streams.has(stream[1])
        ? [pack(streams.get(stream[1])!), "application/octet-stream"]
        : [null, ""];
      if (!body) return new Response("not found", { status: 404 });
      return new Response(new Uint8Array(body), {
        headers: {
          "content-type": type,
          "content-security-policy": wasm ? CSP_WASM : CSP_BEFORE,
          "x-content-type-options": "nosniff",
          "cache-control": "no-store",
        },
      });
    });
    const port = server.addr.port;
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
      });
      const p: Page = await browser.newPage();
      p.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
      const open = async (path: string) => {
        await p.goto(`http://${HOST}:${port}${path}`);
        await p.waitForFunction(() => "__wasm" in globalThis);
      };
      const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
        p.evaluate(([fn, args]) =>
          // deno-lint-ignore no-explicit-any
          (globalThis as any).__wasm[fn as string](...(args as unknown[])), [fn, args] as const);

      await t.step(
        "default-src 'self' alone refuses to compile the WASM; smx's CSP allows it",
        async () => {
          await open("/");
          const env = await call<Record<string, unknown>>("env");
          assert.deepEqual(env, {
            secure: false,
            videoDecoder: false,
            videoFrame: true,
            origin: `http://${HOST}:${port}`,
          });
          const r = await call<{ ok: boolean; message: string }>("start");
          assert.equal(r.ok, false);
          assert.match(r.message, /wasm-unsafe-eval|WebAssembly|CompileError/i);
          console.log(`  without 'wasm-unsafe-eval': ${r.message.slice(0, 160)}`);
        },
      );

      await open("/wasm/");
      assert.deepEqual(await call("start"), { ok: true });

      await t.step("640x360 Baseline: every frame decodes and carries its stamp", async () => {
        const got = await call<
          { sent: number; stamp: { frame: number } | null; size: { display: number[] } }[]
        >("verify", "360");
        assert.equal(got.length, 40);
        for (const g of got) {
          assert.equal(g.stamp?.frame, g.sent, `stamp of frame ${g.sent}`);
          assert.deepEqual(g.size.display, [640, 360]); // cropped from 368 coded lines
        }
      });

      await t.step("behind: a delta past the waiting slot drops until a keyframe", async () => {
        await call("start");
        // Frames 1000..1019 arrive at once: one decodes, one waits, the rest are dropped and a
        // keyframe is asked for (once); the IDR at 1020 and what follows it decode again.
        const r = await call<{
          results: string[];
          drawn: number[];
          keyRequests: number;
        }>("burst", "360", 23, 20);
        assert.deepEqual(r.results.slice(0, 4), ["decoding", "waiting", "dropped", "dropped"]);
        assert.ok(r.results.slice(2, 20).every((x) => x === "dropped"));
        assert.deepEqual(r.results.slice(20), ["decoding", "decoding", "decoding"]);
        assert.equal(r.keyRequests, 1);
        assert.deepEqual(r.drawn, [1000, 1001, 1020, 1021, 1022]);
      });

      await t.step("a Main (CABAC) stream is refused as unsupported", async () => {
        await call("start");
        const r = await call<{ drawn: number[]; stats: { errors: number } }>(
          "burst",
          "main",
          4,
          0,
        );
        assert.deepEqual(r.drawn, []);
        assert.ok(r.stats.errors >= 1);
      });

      await t.step("decode figures (printed)", async () => {
        await call("start");
        const fmt = (s: { p50: number; p95: number }) => `${s.p50.toFixed(2)}/${s.p95.toFixed(2)}`;
        for (const name of ["360m", "720"]) {
          // deno-lint-ignore no-explicit-any
          const r = await call<any>("throughput", name);
          console.log(
            `  ${
              name === "720" ? "1280x720" : "640x360"
            } sequential, ${r.frames} frames (avg ${r.avgBytes} B): ` +
              `${r.fps.toFixed(1)} fps | decode p50/p95 ${fmt(r.decode)} ms | ` +
              `copy ${fmt(r.copy)} | decode()→VideoFrame ${fmt(r.total)} | draw ${fmt(r.draw)}`,
          );
          assert.deepEqual(r.badStamps, [], "sampled stamps match");
          assert.ok(r.fps > 10, `${name} decodes at ${r.fps} fps`);
        }
        for (const maxPending of [1, 4]) {
          // deno-lint-ignore no-explicit-any
          const r = await call<any>("live", FRAMES, maxPending);
          console.log(
            `  1280x720 live at 60 fps, maxPending ${maxPending}: drawn ${r.drawn}/${r.received} ` +
              `(${r.fpsDrawn.toFixed(1)} fps), keyframe requests ${r.keyRequests} | ` +
              `capture→drawn p50/p95 ${fmt(r.latency)} ms | decode ${fmt(r.decode)} | ` +
              `decode()→VideoFrame ${fmt(r.total)} | draw ${fmt(r.draw)}`,
          );
          assert.ok(r.drawn > FRAMES / 4, `live: ${r.drawn} frames drawn`);
        }
      });
    } finally {
      await browser?.close();
      await server.shutdown();
      console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  },
});

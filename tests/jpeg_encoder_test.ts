/**
 * JPEG encoder (ffi/native/jpeg.c, ffi/jpeg.ts): what ffprobe/ffmpeg see (a baseline JPEG at the
 * session size, full-range 4:2:0), the frame stamp through JPEG at the default quality and a
 * downscale to the smallest width class, full-range colour (black stays black), the ring path
 * (newest frame zero-copy; under a full-speed writer no torn frame is ever compressed), and typed
 * errors for every misuse.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { native } from "../ffi/lib.ts";
import { ClosedError, InvalidArgumentError, Status } from "../ffi/errors.ts";
import {
  DEFAULT_JPEG_QUALITY,
  estimateJpegKbps,
  JpegEncoder,
  type JpegFrame,
} from "../ffi/jpeg.ts";
import { FrameRingReader, FrameRingWriter } from "../ffi/ring.ts";
import { readStamp, writeStamp } from "../protocol/stamp.ts";
import { rowWord } from "./fixtures/ring_writer.ts";

/** A moving scene (gradient + a bright square) in BGRA. */
function scene(w: number, h: number, t: number, stride = w * 4): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(stride * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * stride + x * 4;
      px[o] = (x + t * 3) & 255;
      px[o + 1] = (y * 2) & 255;
      px[o + 2] = 96;
      px[o + 3] = 255;
    }
  }
  const s = Math.max(4, h >> 2), x0 = (t * 5) % Math.max(1, w - s), y0 = (h - s) >> 1;
  for (let y = y0; y < y0 + s; y++) px.fill(230, y * stride + x0 * 4, y * stride + (x0 + s) * 4);
  return px;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function run(cmd: string, args: string[], input?: Uint8Array) {
  const p = new Deno.Command(cmd, {
    args,
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read while writing: a big input would otherwise fill both pipes and stall.
  const output = p.output();
  if (input) {
    const w = p.stdin.getWriter();
    await w.write(input);
    await w.close();
  }
  const r = await output;
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${err}`);
  return r.stdout;
}

/** ffmpeg's decode of one JPEG, optionally scaled, as packed RGB. */
function decodeRgb(jpeg: Uint8Array, scale?: string): Promise<Uint8Array> {
  return run("ffmpeg", [
    ...["-v", "error", "-f", "image2pipe", "-c:v", "mjpeg", "-i", "-"],
    ...(scale ? ["-vf", `scale=${scale}`] : []),
    ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
  ], jpeg);
}

async function probe(jpeg: Uint8Array): Promise<Record<string, string>> {
  const out = new TextDecoder().decode(
    await run("ffprobe", [
      ...["-v", "error", "-f", "image2pipe", "-i", "-"],
      ...["-show_entries", "stream=codec_name,width,height,pix_fmt,color_range", "-of", "json"],
    ], jpeg),
  );
  return JSON.parse(out).streams[0];
}

Deno.test("a baseline JPEG at the session size: ffprobe sees it, full-range 4:2:0", async () => {
  using enc = JpegEncoder.open({ width: 640, height: 360 });
  assert.equal(enc.quality, DEFAULT_JPEG_QUALITY);
  assert.equal(enc.codec, "jpeg");
  const f = await enc.encodeRgba(scene(1280, 720, 1), 1280, 720);
  assert.deepEqual([f.data[0], f.data[1]], [0xff, 0xd8], "SOI");
  assert.deepEqual([f.data.at(-2), f.data.at(-1)], [0xff, 0xd9], "EOI");
  assert.equal(f.keyframe, true);
  assert.equal(f.quality, DEFAULT_JPEG_QUALITY);
  assert.deepEqual([f.inWidth, f.inHeight, f.width, f.height], [1280, 720, 640, 360]);
  assert.ok(f.convertMs >= 0 && f.encodeMs > 0);
  const s = await probe(f.data);
  assert.equal(s.codec_name, "mjpeg");
  assert.equal(Number(s.width), 640);
  assert.equal(Number(s.height), 360);
  assert.equal(s.pix_fmt, "yuvj420p");
  assert.equal(s.color_range, "pc");
  // Same size, and an upscale: any input size goes to the session size.
  for (const [w, h] of [[640, 360], [320, 180]]) {
    const g = await enc.encodeRgba(scene(w, h, 2), w, h, { format: "rgba" });
    const p = await probe(g.data);
    assert.deepEqual([Number(p.width), Number(p.height)], [640, 360]);
  }
});

Deno.test("frame stamp survives the JPEG at the default quality and a downscale to 320 px", async () => {
  const [inW, inH] = [1280, 720];
  const base = 1_760_000_000_000_000 + Math.floor(Math.random() * 1e9);
  // The session scales 1280 → 640 (the converter), ffmpeg's decode scales on to 320x180; and a
  // session at 320x180 itself (the smallest width class).
  for (const [w, h, scale] of [[640, 360, "320:180"], [320, 180, undefined]] as const) {
    using enc = JpegEncoder.open({ width: w, height: h });
    for (let t = 0; t < 4; t++) {
      const px = scene(inW, inH, t);
      const stamp = { frame: 1000 + t, captureUs: base + t * 16_667 };
      writeStamp(px, inW, inH, stamp, { channels: "bgra" });
      const f = await enc.encodeRgba(px, inW, inH, {
        frame: stamp.frame,
        captureUs: stamp.captureUs,
      });
      assert.equal(f.frame, stamp.frame);
      assert.equal(f.captureUs, stamp.captureUs);
      const rgb = await decodeRgb(f.data, scale);
      assert.equal(rgb.length, 320 * 180 * 3);
      const got = readStamp(rgb, 320, 180, { channels: "rgb", nowUs: base });
      assert.deepEqual(got, stamp, `stamp at ${w}x${h}, frame ${t}`);
    }
  }
});

Deno.test("full range: black and white survive (a limited-range mix-up would grey them)", async () => {
  using enc = JpegEncoder.open({ width: 64, height: 32 });
  const px = new Uint8Array(64 * 32 * 4);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 64; x++) {
      px.fill(x < 32 ? 0 : 255, (y * 64 + x) * 4, (y * 64 + x) * 4 + 3);
      px[(y * 64 + x) * 4 + 3] = 255;
    }
  }
  const rgb = await decodeRgb((await enc.encodeRgba(px, 64, 32)).data);
  const at = (x: number, y: number) => [...rgb.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
  for (const c of at(8, 16)) assert.ok(c <= 3, `black decodes as ${at(8, 16)}`);
  for (const c of at(56, 16)) assert.ok(c >= 252, `white decodes as ${at(56, 16)}`);
});

Deno.test("quality: settable, smaller files at lower quality, estimate in the measured range", async () => {
  using enc = JpegEncoder.open({ width: 320, height: 180, quality: 95 });
  const px = scene(320, 180, 3);
  const hi = await enc.encodeRgba(px, 320, 180);
  enc.setQuality(30);
  const lo = await enc.encodeRgba(px, 320, 180);
  assert.equal(hi.quality, 95);
  assert.equal(lo.quality, 30);
  assert.ok(lo.data.length < hi.data.length * 0.7, `${lo.data.length} vs ${hi.data.length}`);
  assert.throws(() => enc.setQuality(0), InvalidArgumentError);
  assert.throws(() => enc.setQuality(101), InvalidArgumentError);
  assert.equal(enc.quality, 30);
  // 720p60 at the default quality: 0.5 bit/px measured (bench_jpeg.ts) → ~28 Mbit/s.
  const kbps = estimateJpegKbps(1280, 720, 60);
  assert.ok(kbps > 20_000 && kbps < 35_000, `${kbps}`);
  assert.ok(estimateJpegKbps(1280, 720, 60, 50) < kbps);
  assert.ok(estimateJpegKbps(1280, 720, 30) < kbps);
});

Deno.test("ring path: the newest ring frame, zero-copy, null before the first", async () => {
  const name = `test-jpeg-${Deno.pid}-${Date.now() % 100000}`;
  using writer = FrameRingWriter.open(name, 256, 144, "rgba");
  using reader = FrameRingReader.open(name);
  using enc = JpegEncoder.open({ width: 128, height: 72 });
  assert.equal(await enc.encodeRing(reader), null, "no frame yet");
  for (let t = 1; t <= 3; t++) {
    const slot = writer.begin();
    slot.set(scene(256, 144, t, writer.stride).subarray(0, slot.length));
    writeStamp(slot, 256, 144, { frame: t, captureUs: 5_000_000 + t }, {
      channels: "rgba",
      stride: writer.stride,
    });
    const published = writer.commit(BigInt(5_000_000 + t));
    const f = await enc.encodeRing(reader);
    assert.ok(f, `frame ${t} compressed`);
    assert.equal(f.frame, Number(published));
    assert.equal(f.captureUs, 5_000_000 + t);
    assert.deepEqual([f.inWidth, f.inHeight, f.width, f.height], [256, 144, 128, 72]);
    const got = readStamp(await decodeRgb(f.data), 128, 72, { channels: "rgb", nowUs: 5_000_000 });
    assert.equal(got?.frame, t);
  }
});

/** Mean absolute luma difference between a decoded JPEG (gray) and frame `frame`'s pattern. */
function patternDiff(gray: Uint8Array, frame: number, w: number, h: number): number {
  let sum = 0;
  for (let y = 0; y < h; y++) {
    // Every pixel of a row holds the same word; the ring is BGRA, JPEG's luma full-range BT.601.
    const word = rowWord(BigInt(frame), y);
    const luma = 0.114 * (word & 255) + 0.587 * ((word >>> 8) & 255) + 0.299 * (word >>> 16 & 255);
    for (let x = 0; x < w; x++) sum += Math.abs(gray[y * w + x] - luma);
  }
  return sum / (w * h);
}

Deno.test("ring path under a full-speed writer: a torn frame is never compressed", async () => {
  // The writer fixture of tests/ring_test.ts writes as fast as it can into 3 slots; every row of
  // frame F has its own colour (rowWord), so a frame mixed from two writes is far from both.
  const name = `test-jpeg-torn-${Deno.pid}`;
  const [w, h] = [320, 180];
  const fixture = fileURLToPath(new URL("./fixtures/ring_writer.ts", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fixture,
      name,
      JSON.stringify({ mode: "burst", width: w, height: h, seconds: 1 }),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  let output = "";
  const waitFor = async (re: RegExp) => {
    while (!re.test(output)) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`writer ended without ${re}: ${output}`);
      output += value;
    }
  };
  try {
    await waitFor(/ready/);
    using reader = FrameRingReader.open(name);
    using enc = JpegEncoder.open({ width: w, height: h, quality: 95 });
    await stdin.write(new TextEncoder().encode("go\n"));
    const done = waitFor(/done \d+/);
    let finished = false;
    done.then(() => finished = true, () => finished = true);
    const frames: JpegFrame[] = [];
    let skipped = 0;
    while (!finished) {
      const f = await enc.encodeRing(reader);
      if (f) frames.push(f);
      else skipped++;
    }
    await done;
    assert.ok(frames.length > 20, `compressed ${frames.length} frames`);
    console.log(`  ${frames.length} frames compressed, ${skipped} torn or not-yet (null)`);
    // Every frame is its own pattern: far closer to it than to its neighbours' (a torn frame
    // holds rows of two frames and is far from both). All of them, decoded by one ffmpeg.
    const gray = await run("ffmpeg", [
      ...["-v", "error", "-f", "mjpeg", "-i", "-", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
    ], concat(frames.map((f) => f.data)));
    assert.equal(gray.length, w * h * frames.length, "every JPEG decodes");
    for (const [i, f] of frames.entries()) {
      const pic = gray.subarray(i * w * h, (i + 1) * w * h);
      const own = patternDiff(pic, f.frame, w, h);
      const next = patternDiff(pic, f.frame + 1, w, h);
      assert.ok(own < 4 && own * 5 < next, `frame ${f.frame}: ${own} vs ${next} (torn?)`);
    }
  } finally {
    await stdin.close().catch(() => {});
    await child.status;
    try {
      Deno.removeSync(`/dev/shm/smx-ring-${name}`);
    } catch { /* closed cleanly */ }
  }
});

Deno.test("bad sessions and frames are refused with typed errors; the session carries on", async () => {
  assert.throws(() => JpegEncoder.open({ width: 17, height: 180 }), InvalidArgumentError);
  assert.throws(() => JpegEncoder.open({ width: 8, height: 8 }), /16\.\.8192/);
  assert.throws(() => JpegEncoder.open({ width: 320, height: 180, quality: 0 }), /quality 0/);
  assert.throws(() => JpegEncoder.open({ width: -2, height: 180 }), InvalidArgumentError);
  using enc = JpegEncoder.open({ width: 64, height: 64 });
  await assert.rejects(enc.encodeRgba(new Uint8Array(16), 64, 64), /too small/);
  await assert.rejects(
    enc.encodeRgba(new Uint8Array(64 * 64 * 4), 64, 64, { stride: 8 }),
    /stride/,
  );
  await assert.rejects(
    // @ts-expect-error: a format the wrapper does not know
    enc.encodeRgba(new Uint8Array(64 * 64 * 4), 64, 64, { format: "argb" }),
    InvalidArgumentError,
  );
  const ok = await enc.encodeRgba(scene(64, 64, 0), 64, 64);
  assert.ok(ok.data.length > 100);
});

Deno.test("closed encoders throw ClosedError; close waits for the call in flight", async () => {
  const enc = JpegEncoder.open({ width: 1280, height: 720 });
  const px = scene(1920, 1080, 0);
  const inFlight = enc.encodeRgba(px, 1920, 1080);
  enc.close(); // while the encode runs on a worker thread
  assert.ok(enc.closed);
  await assert.rejects(inFlight, ClosedError); // it had not started: the queue refuses it
  await assert.rejects(enc.encodeRgba(px, 1920, 1080), ClosedError);
  assert.throws(() => enc.setQuality(50), ClosedError);
  enc.close(); // idempotent

  // The native side on its own: NULL and closed handles are errors, never a crash.
  const n = native();
  assert.equal(n.smx_jpeg_set_quality(null, 50), Status.INVALID_ARG);
  const h = n.smx_jpeg_open(64, 64, 80)!;
  const running = n.smx_jpeg_encode_rgba(h, px, BigInt(px.length), 1920, 1080, 1920 * 4, 1, 1n, 0n);
  // Whichever thread wins, close never frees the session under a running encode: the encode
  // either completes (close waited for it) or finds the handle closed.
  n.smx_jpeg_close(h);
  const r = await running;
  assert.ok(r > 0 || r === Status.CLOSED, `encode during close returned ${r}`);
  assert.equal(n.smx_jpeg_set_quality(h, 50), Status.CLOSED);
  assert.equal(await n.smx_jpeg_encode_ring(h, null), Status.CLOSED);
  n.smx_jpeg_close(h); // a second close is ignored
});

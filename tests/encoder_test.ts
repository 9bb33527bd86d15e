/**
 * H.264 encoder (ffi/native/encoder.c, ffi/encoder.ts): the stream ffprobe sees (Main, 4:2:0,
 * no reordering), IDRs exactly where asked with SPS/PPS in front, the frame stamp through
 * encode → ffmpeg decode → 320 px, the ring path, rate changes without a new session, and clean
 * typed errors for every misuse. Small sizes keep it quick on a shared 2-core machine.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../ffi/lib.ts";
import {
  ClosedError,
  EncoderError,
  InvalidArgumentError,
  Status,
  toCString,
} from "../ffi/errors.ts";
import { defaultBitrateKbps, type EncodedFrame, H264Encoder } from "../ffi/encoder.ts";
import { FrameRingReader, FrameRingWriter } from "../ffi/ring.ts";
import { readStamp, writeStamp } from "../protocol/stamp.ts";

// ---- helpers ----------------------------------------------------------------------------

/** A moving scene (gradient + a bright square) in BGRA: easy content, cheap to encode. */
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

/** Busy content (fresh noise every frame): it always fills the rate cap. */
function noise(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** NAL unit types of an Annex-B access unit, in order. */
function nalTypes(au: Uint8Array): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      types.push(au[i + 3] & 0x1f);
      i += 3;
    }
  }
  return types;
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

async function run(cmd: string, args: string[]): Promise<{ out: Uint8Array; err: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${err}`);
  return { out: r.stdout, err };
}

async function withStream<T>(frames: EncodedFrame[], fn: (path: string) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "smx-enc-" });
  try {
    const path = join(dir, "stream.h264");
    await Deno.writeFile(path, concat(frames.map((f) => f.data)));
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function encodeScenes(enc: H264Encoder, w: number, h: number, n: number) {
  const frames: EncodedFrame[] = [];
  for (let t = 0; t < n; t++) frames.push(await enc.encodeRgba(scene(w, h, t), w, h));
  return frames;
}

// ---- the stream -------------------------------------------------------------------------

Deno.test("stream is H.264 Main 4:2:0 at the session size, without reordering", async () => {
  for (const [inW, inH, outW, outH] of [[320, 240, 320, 240], [641, 361, 160, 90]]) {
    using enc = await H264Encoder.open({ width: outW, height: outH, fps: 30 });
    assert.equal(enc.name, "libx264"); // no GPU here
    assert.match(enc.codec, /^avc1\.4d40[0-9a-f]{2}$/);
    const frames = await encodeScenes(enc, inW, inH, 12);
    assert.ok(frames.every((f) => f.width === outW && f.height === outH));
    assert.ok(frames.every((f) => f.inWidth === inW && f.inHeight === inH));
    await withStream(frames, async (path) => {
      const { out } = await run("ffprobe", [
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=profile,pix_fmt,width,height,has_b_frames,level",
        "-of",
        "json",
        path,
      ]);
      const s = JSON.parse(new TextDecoder().decode(out)).streams[0];
      assert.equal(s.profile, "Main");
      assert.equal(s.pix_fmt, "yuv420p");
      assert.equal(s.width, outW);
      assert.equal(s.height, outH);
      assert.equal(s.has_b_frames, 0);
      assert.equal(enc.codec, `avc1.4d40${s.level.toString(16).padStart(2, "0")}`);
      // The SPS itself: CABAC on, VUI bitstream_restriction with max_num_reorder_frames = 0.
      const { err } = await run("ffmpeg", [
        "-hide_banner",
        "-i",
        path,
        "-c",
        "copy",
        "-bsf:v",
        "trace_headers",
        "-f",
        "null",
        "-",
      ]);
      const field = (name: string) =>
        [...err.matchAll(new RegExp(`\\s${name}\\s+\\S+ = (\\d+)`, "g"))].map((m) => +m[1]);
      assert.deepEqual(new Set(field("profile_idc")), new Set([77]));
      assert.deepEqual(new Set(field("entropy_coding_mode_flag")), new Set([1]));
      assert.deepEqual(new Set(field("bitstream_restriction_flag")), new Set([1]));
      assert.deepEqual(new Set(field("max_num_reorder_frames")), new Set([0]));
    });
  }
});

Deno.test("IDR in the very frame after forceIdr / requestIdr, with SPS and PPS before it", async () => {
  using enc = await H264Encoder.open({ width: 192, height: 108, fps: 60 });
  const keyframes: number[] = [];
  for (let t = 0; t < 12; t++) {
    if (t === 8) enc.requestIdr();
    const f = await enc.encodeRgba(scene(192, 108, t), 192, 108, { forceIdr: t === 4 });
    const types = nalTypes(f.data);
    const slices = types.filter((n) => n === 1 || n === 5);
    assert.ok(slices.length > 0, `frame ${t} has a slice`);
    assert.ok(slices.every((n) => n === slices[0]), `frame ${t}: one kind of slice`);
    assert.equal(f.keyframe, slices[0] === 5, `frame ${t}: keyframe flag matches the NALs`);
    if (f.keyframe) {
      keyframes.push(t);
      const idr = types.indexOf(5);
      assert.ok(types.indexOf(7) >= 0 && types.indexOf(7) < idr, `frame ${t}: SPS before IDR`);
      assert.ok(types.indexOf(8) > types.indexOf(7) && types.indexOf(8) < idr, "PPS after SPS");
    } else {
      assert.ok(!types.includes(7) && !types.includes(8), `frame ${t}: no SPS/PPS on a P frame`);
    }
  }
  assert.deepEqual(keyframes, [0, 4, 8]);
});

Deno.test("frame stamp survives encode, ffmpeg decode and a downscale to 320 px", async () => {
  // 1280x720 BGRA in, 640x360 session, decoded and scaled to 320x180 by ffmpeg.
  const [inW, inH] = [1280, 720];
  using enc = await H264Encoder.open({ width: 640, height: 360, fps: 30 });
  const base = 1_760_000_000_000_000 + Math.floor(Math.random() * 1e9);
  const written: { frame: number; captureUs: number }[] = [];
  const frames: EncodedFrame[] = [];
  for (let t = 0; t < 8; t++) {
    const px = scene(inW, inH, t);
    const stamp = { frame: 1000 + t, captureUs: base + t * 16_667 };
    writeStamp(px, inW, inH, stamp, { channels: "bgra" });
    written.push(stamp);
    const f = await enc.encodeRgba(px, inW, inH, {
      frame: stamp.frame,
      captureUs: stamp.captureUs,
    });
    assert.equal(f.frame, stamp.frame);
    assert.equal(f.captureUs, stamp.captureUs);
    frames.push(f);
  }
  const decoded = await withStream(frames, async (path) =>
    (await run("ffmpeg", [
      "-v",
      "error",
      "-i",
      path,
      "-vf",
      "scale=320:180",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ])).out);
  const size = 320 * 180 * 3;
  assert.equal(decoded.length, size * frames.length, "every frame decodes (no buffering)");
  for (let i = 0; i < frames.length; i++) {
    const got = readStamp(decoded.subarray(i * size, (i + 1) * size), 320, 180, {
      channels: "rgb",
      nowUs: base,
    });
    assert.deepEqual(got, written[i], `stamp of frame ${i}`);
  }
});

Deno.test("ring path: encodes the newest ring frame zero-copy, null before the first", async () => {
  const name = `test-enc-${Deno.pid}-${Date.now() % 100000}`;
  using writer = FrameRingWriter.open(name, 256, 144, "rgba");
  using reader = FrameRingReader.open(name);
  using enc = await H264Encoder.open({ width: 128, height: 72, fps: 30 });
  assert.equal(await enc.encodeRing(reader), null, "no frame yet");
  for (let t = 1; t <= 3; t++) {
    const slot = writer.begin();
    const px = scene(256, 144, t, writer.stride);
    slot.set(px.subarray(0, slot.length));
    writeStamp(slot, 256, 144, { frame: t, captureUs: 5_000_000 + t }, {
      channels: "rgba",
      stride: writer.stride,
    });
    const published = writer.commit(BigInt(5_000_000 + t));
    const f = await enc.encodeRing(reader, t === 3);
    assert.ok(f, `frame ${t} encoded`);
    assert.equal(f.frame, Number(published));
    assert.equal(f.captureUs, 5_000_000 + t);
    assert.equal(f.inWidth, 256);
    assert.equal(f.width, 128);
    assert.equal(f.keyframe, t === 1 || t === 3);
  }
});

Deno.test("ring path under a full-speed writer: torn frames are skipped, stream stays valid", async () => {
  // The writer fixture of tests/ring_test.ts in its own process, writing as fast as it can into
  // 3 slots; every encodeRing either encodes a frame whose slot held still, or returns null.
  const name = `test-enc-torn-${Deno.pid}`;
  const fixture = fileURLToPath(new URL("./fixtures/ring_writer.ts", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fixture,
      name,
      JSON.stringify({ mode: "burst", width: 640, height: 360, seconds: 1 }),
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
    using enc = await H264Encoder.open({ width: 320, height: 180, fps: 60 });
    await stdin.write(new TextEncoder().encode("go\n"));
    const done = waitFor(/done \d+/);
    let finished = false;
    done.then(() => finished = true, () => finished = true);
    const frames: EncodedFrame[] = [];
    let skipped = 0, last = 0;
    while (!finished) {
      const f = await enc.encodeRing(reader);
      if (!f) {
        skipped++;
        continue;
      }
      assert.ok(f.frame >= last, "frames never go back");
      last = f.frame;
      frames.push(f);
    }
    await done;
    assert.ok(frames.length > 10, `encoded ${frames.length} frames`);
    assert.ok(frames[0].keyframe);
    console.log(`  ${frames.length} frames encoded, ${skipped} torn or not-yet (null)`);
    const decoded = await withStream(
      frames,
      async (path) =>
        (await run("ffmpeg", [
          "-v",
          "error",
          "-i",
          path,
          "-f",
          "rawvideo",
          "-pix_fmt",
          "gray",
          "-",
        ])).out,
    );
    assert.equal(decoded.length, 320 * 180 * frames.length, "every packet decodes to a frame");
  } finally {
    await stdin.close().catch(() => {});
    await child.status;
    try {
      Deno.removeSync(`/dev/shm/smx-ring-${name}`);
    } catch { /* closed cleanly */ }
  }
});

// ---- rate changes -----------------------------------------------------------------------

Deno.test("bitrate and fps changes take effect in the same session (no IDR)", async () => {
  const [w, h] = [320, 240];
  using enc = await H264Encoder.open({ width: w, height: h, fps: 30, bitrateKbps: 1500 });
  const sizes: number[] = [];
  const keyframes: number[] = [];
  for (let t = 0; t < 90; t++) {
    if (t === 30) enc.setBitrate(300);
    if (t === 60) enc.setFps(10); // same bitrate over a third of the frames: 3x the budget each
    const f = await enc.encodeRgba(noise(w * h * 4, t + 1), w, h);
    sizes.push(f.data.length);
    if (f.keyframe) keyframes.push(t);
  }
  const avg = (a: number, b: number) => sizes.slice(a, b).reduce((s, v) => s + v, 0) / (b - a);
  const [high, low, slower] = [avg(10, 30), avg(40, 60), avg(70, 90)];
  // Per-frame budget: 1500/30 = 50 kbit, 300/30 = 10 kbit, 300/10 = 30 kbit.
  assert.ok(low < high * 0.4, `bitrate cut: ${high} -> ${low} B/frame`);
  assert.ok(slower > low * 2, `fps cut raises the per-frame budget: ${low} -> ${slower}`);
  assert.ok(high < 50_000 / 8 * 1.3, `VBV caps frames near bitrate/fps: ${high} B/frame`);
  assert.deepEqual(keyframes, [0], "no new session, no IDR");
});

Deno.test("defaultBitrateKbps grows with pixels and frame rate", () => {
  assert.equal(defaultBitrateKbps(1280, 720, 30), 2765);
  assert.ok(defaultBitrateKbps(1280, 720, 60) > defaultBitrateKbps(1280, 720, 30));
  assert.ok(defaultBitrateKbps(1920, 1080, 60) > defaultBitrateKbps(1280, 720, 60));
  assert.equal(defaultBitrateKbps(16, 16, 1), 300);
});

// ---- encoder choice ---------------------------------------------------------------------

Deno.test("without an NVIDIA driver NVENC is skipped with the real reason", async () => {
  using enc = await H264Encoder.open({ width: 64, height: 64, fps: 30 });
  assert.equal(enc.name, "libx264");
  assert.match(enc.skipped, /^h264_nvenc: NVIDIA driver not installed: libcuda\.so\.1/);

  await assert.rejects(
    H264Encoder.open({ width: 64, height: 64, fps: 30, preference: ["h264_nvenc"] }),
    (e: Error) => {
      assert.ok(e instanceof EncoderError, `${e.name}: ${e.message}`);
      assert.match(e.message, /h264_nvenc: NVIDIA driver not installed: libcuda\.so\.1/);
      assert.doesNotMatch(e.message, /Operation not permitted/);
      return true;
    },
  );
});

Deno.test("SMX_ENCODERS overrides the default order; an explicit preference wins", async () => {
  const before = Deno.env.get("SMX_ENCODERS");
  Deno.env.set("SMX_ENCODERS", "libx264");
  try {
    using enc = await H264Encoder.open({ width: 64, height: 64, fps: 30 });
    assert.equal(enc.name, "libx264");
    assert.equal(enc.skipped, "", "h264_nvenc was not tried");
    await assert.rejects(
      H264Encoder.open({ width: 64, height: 64, fps: 30, preference: ["h264_nvenc"] }),
      EncoderError,
    );
  } finally {
    if (before === undefined) Deno.env.delete("SMX_ENCODERS");
    else Deno.env.set("SMX_ENCODERS", before);
  }
});

// ---- misuse -----------------------------------------------------------------------------

Deno.test("bad sessions are refused with InvalidArgumentError and a clear message", async () => {
  const cases: [Partial<Parameters<typeof H264Encoder.open>[0]>, RegExp][] = [
    [{ width: 0, height: 360 }, /size 0x360 refused: .*even/],
    [{ width: 641, height: 360 }, /size 641x360 refused: .*even \(4:2:0\)/],
    [{ width: 640, height: 359 }, /640x359 refused/],
    [{ width: 8192, height: 4320 }, /8192x4320 refused: .*16\.\.4096/],
    [{ width: 4096, height: 4096 }, /4096x4096 refused: more than 36864 macroblocks/],
    [{ width: 640, height: 360, fps: 0 }, /fps 0 refused/],
    [{ width: 640, height: 360, bitrateKbps: 1 }, /bitrate 1 kbps refused/],
    [{ width: 640.5, height: 360 }, /width must be a non-negative integer/],
    [{ width: 640, height: 360, preference: ["libfoo"] }, /unknown encoder 'libfoo'.*libx264/],
    [{ width: 640, height: 360, preference: ["libx264,x"] }, /not a libavcodec encoder name/],
  ];
  for (const [opts, message] of cases) {
    await assert.rejects(
      H264Encoder.open({ width: 640, height: 360, fps: 30, ...opts }),
      (e: Error) => {
        assert.ok(e instanceof InvalidArgumentError, `${JSON.stringify(opts)}: ${e.name}`);
        assert.match(e.message, message);
        return true;
      },
    );
  }
});

Deno.test("bad frames and settings are refused; the session carries on", async () => {
  using enc = await H264Encoder.open({ width: 64, height: 64, fps: 30 });
  const px = scene(64, 64, 0);
  await assert.rejects(enc.encodeRgba(px.subarray(0, 1000), 64, 64), /too small for 64x64/);
  await assert.rejects(enc.encodeRgba(px, 64, 64, { stride: 100 }), /stride 100 is less than/);
  await assert.rejects(enc.encodeRgba(px, 0, 64), InvalidArgumentError);
  await assert.rejects(
    enc.encodeRgba(px, 64, 64, { format: "argb" as "rgba" }),
    InvalidArgumentError,
  );
  assert.throws(() => enc.setBitrate(0), /bitrate 0 kbps refused/);
  assert.throws(() => enc.setFps(1000), /fps 1000 refused/);
  const f = await enc.encodeRgba(px, 64, 64);
  assert.ok(f.keyframe && f.data.length > 0, "still encodes (first real frame is an IDR)");
});

Deno.test("closed encoders throw ClosedError; close waits for the call in flight", async () => {
  const enc = await H264Encoder.open({ width: 64, height: 64, fps: 30 });
  const px = scene(64, 64, 0);
  // Queued calls run one at a time, in order.
  const results = await Promise.all(
    [1, 2, 3].map((frame) => enc.encodeRgba(px, 64, 64, { frame })),
  );
  assert.deepEqual(results.map((r) => r.frame), [1, 2, 3]);

  const inFlight = enc.encodeRgba(px, 64, 64);
  await new Promise((r) => setTimeout(r, 0)); // the native call is running or done
  enc.close();
  enc.close(); // idempotent
  const settled = await inFlight.then((f) => f.data.length, (e) => e);
  assert.ok(typeof settled === "number" || settled instanceof ClosedError, String(settled));
  await assert.rejects(enc.encodeRgba(px, 64, 64), ClosedError);
  assert.throws(() => enc.requestIdr(), ClosedError);
  assert.throws(() => enc.setBitrate(1000), ClosedError);
});

Deno.test("native handles: NULL and closed are errors, close waits for an encode", async () => {
  const n = native();
  assert.equal(n.smx_encoder_request_idr(null), Status.INVALID_ARG);
  assert.equal(await n.smx_encoder_encode_ring(null, null, 0), Status.INVALID_ARG);
  assert.equal(n.smx_encoder_packet_data(null), null);
  n.smx_encoder_close(null);

  const err = new Uint8Array(512), status = new Int32Array(1);
  const h = await n.smx_encoder_open(toCString("libx264"), 64, 64, 30, 500, err, 512, status);
  assert.ok(h, new TextDecoder().decode(err));
  assert.equal(await n.smx_encoder_encode_ring(h, null, 0), Status.INVALID_ARG);
  const px = scene(640, 480, 1);
  // Whichever thread wins, close never frees the encoder under a running encode: the encode
  // either completes (close waited for it) or finds the handle closed.
  const running = n.smx_encoder_encode_rgba(h, px, BigInt(px.length), 640, 480, 2560, 1, 1n, 0n, 0);
  n.smx_encoder_close(h);
  const r = await running;
  assert.ok(r > 0 || r === Status.CLOSED, `encode during close returned ${r}`);
  assert.equal(n.smx_encoder_request_idr(h), Status.CLOSED);
  assert.equal(
    await n.smx_encoder_encode_rgba(h, px, BigInt(px.length), 640, 480, 2560, 1, 1n, 0n, 0),
    Status.CLOSED,
  );
  assert.equal(
    Deno.UnsafePointerView.getCString(n.smx_encoder_error(h)!),
    "encoder handle is closed (or was never opened)",
  );
  n.smx_encoder_close(h); // a second close is ignored
});

/**
 * Frame stamp: the TypeScript reader/writer (protocol/stamp.ts) against itself, against the C
 * writer/reader (ffi/native/stamp.c), and through a real H.264 encode/decode + downscale to
 * 320 px wide with ffmpeg (the path a stamp takes to a browser).
 */
import assert from "node:assert/strict";
import { native } from "../ffi/lib.ts";
import { Status } from "../ffi/errors.ts";
import {
  readStamp,
  stampBandHeight,
  type StampChannels,
  widenTime,
  writeStamp,
} from "../protocol/stamp.ts";

const BGRA = 1, RGBA = 2;
const NOW_US = 1_760_000_000_000_000; // a fixed "now" so the tests do not depend on the clock

/** Deterministic pseudo-random bytes (xorshift32): busy picture content. */
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

Deno.test("TS write -> TS read is exact for sizes, channel orders and strides", () => {
  const cases: [number, number, StampChannels, number][] = [
    [1920, 1080, "bgra", 0],
    [1280, 720, "rgba", 64],
    [333, 201, "rgb", 7],
    [40, 4, "rgba", 0], // the smallest frame that holds a stamp
    [320, 180, "rgb", 0],
  ];
  for (const [w, h, channels, pad] of cases) {
    const bpp = channels === "rgb" ? 3 : 4;
    const stride = w * bpp + pad;
    const pixels = noise(stride * h, w);
    const stamp = { frame: 0xdeadbeef, captureUs: NOW_US + 123_456 };
    writeStamp(pixels, w, h, stamp, { stride, channels });
    const got = readStamp(pixels, w, h, { stride, channels, nowUs: NOW_US });
    assert.deepEqual(got, stamp, `${w}x${h} ${channels} stride ${stride}`);
  }
});

Deno.test("the band height is the same in TS and C", () => {
  for (const w of [1, 40, 59, 60, 61, 99, 100, 320, 333, 1280, 1920, 3840, 8192]) {
    assert.equal(stampBandHeight(w), native().smx_stamp_band_height(w), `width ${w}`);
  }
  assert.equal(stampBandHeight(1920), 96);
  assert.equal(stampBandHeight(320), 16);
});

Deno.test("capture time widens to the value nearest the reader's clock", () => {
  const low = (us: number) => us % 2 ** 32;
  const t = NOW_US + 5_000;
  assert.equal(widenTime(low(t), NOW_US), t);
  assert.equal(widenTime(low(t), NOW_US + 30 * 60e6), t, "30 minutes later still resolves");
  assert.equal(widenTime(low(t), NOW_US - 30 * 60e6), t, "and 30 minutes earlier");
  const wrap = Math.ceil(NOW_US / 2 ** 32) * 2 ** 32; // a 2^32 boundary near now
  assert.equal(widenTime(low(wrap - 10), wrap + 10), wrap - 10, "across the low-word wrap");
  assert.equal(widenTime(low(wrap + 10), wrap - 10), wrap + 10);
  const pixels = new Uint8Array(640 * 360 * 4);
  writeStamp(pixels, 640, 360, { frame: 7, captureUs: wrap - 3 }, { channels: "rgba" });
  assert.deepEqual(readStamp(pixels, 640, 360, { channels: "rgba", nowUs: wrap + 900_000 }), {
    frame: 7,
    captureUs: wrap - 3,
  });
  // Default clock: a fresh stamp reads back as itself.
  const now = Date.now() * 1000;
  writeStamp(pixels, 640, 360, { frame: 8, captureUs: now }, { channels: "rgba" });
  assert.equal(readStamp(pixels, 640, 360, { channels: "rgba" })?.captureUs, now);
});

Deno.test("frames without a valid stamp read as null", () => {
  const w = 640, h = 360;
  assert.equal(readStamp(new Uint8Array(w * h * 4), w, h, { channels: "rgba" }), null, "black");
  assert.equal(
    readStamp(new Uint8Array(w * h * 4).fill(255), w, h, { channels: "rgba" }),
    null,
    "white",
  );
  assert.equal(readStamp(noise(w * h * 4, 3), w, h, { channels: "rgba" }), null, "noise");
  const pixels = new Uint8Array(w * h * 4);
  writeStamp(pixels, w, h, { frame: 1234, captureUs: NOW_US }, { channels: "rgba" });
  const flipped = pixels.slice(); // invert frame-number cell 5 of row 0: the CRC catches it
  for (let y = 0; y < stampBandHeight(w) / 2; y++) {
    for (let x = Math.floor((5 * w) / 40); x < Math.floor((6 * w) / 40); x++) {
      for (let c = 0; c < 3; c++) flipped[(y * w + x) * 4 + c] = 255 - pixels[(y * w + x) * 4 + c];
    }
  }
  assert.equal(readStamp(flipped, w, h, { channels: "rgba", nowUs: NOW_US }), null, "CRC");
  assert.equal(readStamp(pixels, 39, h, { channels: "rgba" }), null, "too narrow");
  assert.equal(readStamp(pixels, w, 10, { channels: "rgba" }), null, "too short");
  assert.throws(() => writeStamp(pixels, w, 10, { frame: 1, captureUs: 1 }), RangeError);
});

Deno.test("C write -> TS read and TS write -> C read agree exactly", () => {
  const n = native();
  for (const [w, h, format] of [[1920, 1080, BGRA], [321, 123, RGBA], [40, 4, BGRA]]) {
    const stride = w * 4 + 32;
    const pixels = noise(stride * h, h);
    const captureUs = Number(n.smx_now_us()) - 2_000;
    assert.equal(
      n.smx_stamp_write(pixels, w, h, stride, format, 4_000_000_001, BigInt(captureUs)),
      0,
    );
    const channels = format === BGRA ? "bgra" : "rgba";
    assert.deepEqual(readStamp(pixels, w, h, { stride, channels }), {
      frame: 4_000_000_001,
      captureUs,
    });

    writeStamp(pixels, w, h, { frame: 77, captureUs: captureUs + 1 }, { stride, channels });
    const out = new BigInt64Array(2);
    assert.equal(n.smx_stamp_read(pixels, w, h, stride, format, out), 0);
    assert.deepEqual([...out], [77n, BigInt(captureUs + 1)]);
  }
  const none = new BigInt64Array(2);
  assert.equal(
    n.smx_stamp_read(new Uint8Array(640 * 360 * 4), 640, 360, 2560, BGRA, none),
    Status.NOT_FOUND,
  );
  assert.equal(
    n.smx_stamp_write(new Uint8Array(100 * 4 * 4), 100, 4, 400, BGRA, 1, 1n),
    Status.INVALID_ARG,
    "a 100x4 frame cannot hold the 6-pixel band",
  );
  assert.equal(n.smx_stamp_write(null, 100, 100, 400, BGRA, 1, 1n), Status.INVALID_ARG);
  assert.equal(
    n.smx_stamp_write(new Uint8Array(400 * 100), 100, 100, 400, 9, 1, 1n),
    Status.INVALID_ARG,
  );
});

/** Busy BGRA content that moves each frame (so the encoder really has to work). */
function busyFrame(w: number, h: number, i: number): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(w * h * 4);
  const grain = noise(w * 4, i + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w * 4;
    for (let x = 0; x < w; x++) {
      const o = row + x * 4;
      px[o] = (x + i * 7) & 0xff;
      px[o + 1] = (y * 2 + i * 3) & 0xff;
      px[o + 2] = ((x ^ y) + i * 11) & 0xff;
      px[o + 3] = 255;
    }
    if (y % 3 === 0) px.set(grain, row); // high-frequency stripes
  }
  return px;
}

async function run(cmd: string, args: string[], input?: Uint8Array[]): Promise<Uint8Array> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input) {
    const writer = child.stdin.getWriter();
    for (const chunk of input) await writer.write(chunk);
    await writer.close();
  }
  const res = await child.output();
  if (!res.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(res.stderr)}`);
  return res.stdout;
}

/** Stamped BGRA frames -> x264 (ultrafast, zerolatency) -> decode + scale to 320 wide rgb24. */
async function roundTrip(w: number, h: number, count: number, encodeArgs: string[]) {
  const base = Date.now() * 1000;
  const frames = Array.from({ length: count }, (_, i) => {
    const px = busyFrame(w, h, i);
    writeStamp(px, w, h, { frame: 1000 + i, captureUs: base + i * 16_667 }, { channels: "bgra" });
    return px;
  });
  const dir = await Deno.makeTempDir({ prefix: "smx-stamp-" });
  try {
    const h264 = `${dir}/out.h264`;
    await run("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgra"],
      ...["-s", `${w}x${h}`, "-r", "60", "-i", "pipe:0", "-c:v", "libx264"],
      ...["-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", ...encodeArgs],
      ...["-f", "h264", "-y", h264],
    ], frames);
    const small = await run("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-i", h264, "-vf", "scale=320:-2"],
      ...["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ]);
    const outH = Math.round((h * 320) / w / 2) * 2;
    const size = 320 * outH * 3;
    assert.equal(small.length, size * count, "every frame decoded");
    const stamps = [];
    for (let i = 0; i < count; i++) {
      const frame = small.subarray(i * size, (i + 1) * size);
      stamps.push(readStamp(frame, 320, outH, { channels: "rgb", nowUs: base }));
    }
    return { stamps, base, bytes: (await Deno.stat(h264)).size };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Bitrates well below what smx streams these sizes at, on deliberately busy content. */
const LOW_BITRATE: Record<number, string> = { 1920: "2M", 1280: "1M", 854: "500k" };

for (const [w, h] of [[1920, 1080], [1280, 720], [854, 480]]) {
  Deno.test(`stamps survive H.264 encode/decode and a downscale from ${w}x${h} to 320 wide`, async () => {
    const count = w >= 1920 ? 12 : 20;
    const expected = (i: number, base: number) => ({
      frame: 1000 + i,
      captureUs: base + i * 16_667,
    });
    for (const args of [[], ["-b:v", LOW_BITRATE[w]]]) {
      const { stamps, base, bytes } = await roundTrip(w, h, count, args);
      const label = args.length ? `at ${args[1]}bit/s` : "at crf 23";
      stamps.forEach((s, i) => assert.deepEqual(s, expected(i, base), `${label} #${i}`));
      console.log(`${w}x${h} ${label}: ${bytes} bytes for ${count} frames, every stamp exact`);
    }

    // Starved far beyond use, x264 repeats old pictures: a stamp may then be a previous frame's,
    // but it is never a wrong value.
    const { stamps, base } = await roundTrip(w, h, count, ["-b:v", "100k"]);
    const written = new Set(stamps.map((_, i) => JSON.stringify(expected(i, base))));
    const exact = stamps.filter((s, i) => JSON.stringify(s) === JSON.stringify(expected(i, base)));
    stamps.forEach((s, i) => assert.ok(s === null || written.has(JSON.stringify(s)), `#${i}`));
    console.log(`${w}x${h} at 100 kbit/s: ${exact.length}/${count} exact, none wrong`);
  });
}

/**
 * Encoder benchmark: `deno task bench:encode [--frames N]`.
 *
 * Cases 1280x720→1280x720 (Main, and Constrained Baseline: `--case 1280x720-1280x720-baseline`),
 * 1920x1080→1920x1080 and 1920x1080→640x360 at 60 fps with the default bitrate. Input is a
 * pre-generated set of moving frames (gradient background drifting in colour,
 * solid shapes on Lissajous paths, a scrolling text-like band), played forward and back so motion
 * stays smooth, each stamped with its frame number just before it is encoded (not timed).
 * "total" is the whole nonblocking call as TS sees it (await encodeRgba), so it includes the
 * FFI round trip and the copy of the packet out of native memory.
 *
 * Prints a table per case and, as the LAST line, one JSON object for machines.
 */
import { defaultBitrateKbps, H264Encoder, type H264Profile } from "../ffi/encoder.ts";
import { native } from "../ffi/lib.ts";

const FPS = 60;
const SET = 32; // distinct pre-generated frames per case (1080p: 265 MB)
const WARMUP = 30; // frames not measured (encoder start, converter calibration, page faults)
const argFrames = Deno.args.indexOf("--frames");
const FRAMES = argFrames >= 0 ? Number(Deno.args[argFrames + 1]) : 600;
const argCase = Deno.args.indexOf("--case"); // e.g. --case 1920x1080-640x360: run only that one
const ONLY = argCase >= 0 ? Deno.args[argCase + 1] : undefined;

interface Case {
  inW: number;
  inH: number;
  outW: number;
  outH: number;
  /** H.264 profile; default "main". */
  profile?: H264Profile;
}
const CASES: Case[] = [
  { inW: 1280, inH: 720, outW: 1280, outH: 720 },
  // The rendition for pages without WebCodecs (ui/video/wasm_h264/ decodes Baseline only).
  { inW: 1280, inH: 720, outW: 1280, outH: 720, profile: "baseline" },
  { inW: 1920, inH: 1080, outW: 1920, outH: 1080 },
  { inW: 1920, inH: 1080, outW: 640, outH: 360 },
];

/** One BGRA frame of the moving test scene at time step t. */
function renderFrame(w: number, h: number, t: number): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(w * h * 4);
  const u32 = new Uint32Array(px.buffer);
  const blue = Math.round(128 + 60 * Math.sin(t * 0.07));
  for (let y = 0; y < h; y++) {
    const g = Math.round((y * 255) / h);
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const r = Math.round((x * 255) / w);
      u32[row + x] = 0xff000000 | (r << 16) | (g << 8) | blue; // BGRA in memory
    }
  }
  // A text-like band of fine detail scrolling sideways (a UI or caption over the scene).
  const bandY = Math.round(h * 0.7), bandH = Math.round(h / 10);
  for (let y = bandY; y < bandY + bandH; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x + t * 3;
      const on = ((sx >> 2) * 7 + (y >> 2) * 13) % 11 < 4 && (sx % 96) < 80;
      if (on) u32[y * w + x] = 0xfff0f0f0;
    }
  }
  // Solid shapes moving along Lissajous paths at a few pixels per frame.
  const size = Math.round(h / 9);
  for (let i = 0; i < 8; i++) {
    const cx = Math.round(w / 2 + (w / 2.6) * Math.sin(t * (0.011 + i * 0.003) * 4 + i));
    const cy = Math.round(h / 2 + (h / 2.8) * Math.cos(t * (0.013 + i * 0.002) * 4 + i * 2));
    const colour = 0xff000000 | ((i * 97 + 60) & 255) << 16 | ((i * 53 + 30) & 255) << 8 |
      ((i * 31 + 200) & 255);
    for (let y = Math.max(0, cy - size); y < Math.min(h, cy + size); y++) {
      for (let x = Math.max(0, cx - size); x < Math.min(w, cx + size); x++) {
        const dx = x - cx, dy = y - cy;
        if (i % 2 === 1 || dx * dx + dy * dy < size * size) u32[y * w + x] = colour;
      }
    }
  }
  return px;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
const r3 = (v: number) => Math.round(v * 1000) / 1000;

const n = native();
let encoderName = "";
const results = [];
for (const c of CASES) {
  const id = `${c.inW}x${c.inH}-${c.outW}x${c.outH}${c.profile ? `-${c.profile}` : ""}`;
  if (ONLY && ONLY !== id) continue;
  const frames = Array.from({ length: SET }, (_, i) => renderFrame(c.inW, c.inH, i));
  const enc = await H264Encoder.open({
    width: c.outW,
    height: c.outH,
    fps: FPS,
    profile: c.profile,
  });
  encoderName = enc.name;
  const convert: number[] = [], encode: number[] = [], total: number[] = [], rest: number[] = [];
  let bytes = 0, keyframes = 0;
  for (let i = 0; i < FRAMES + WARMUP; i++) {
    const k = i % (2 * SET);
    const px = frames[k < SET ? k : 2 * SET - 1 - k]; // forward, then backward
    const captureUs = n.smx_now_us();
    n.smx_stamp_write(px, c.inW, c.inH, c.inW * 4, 1, i + 1, captureUs);
    const t0 = performance.now();
    const f = await enc.encodeRgba(px, c.inW, c.inH, { frame: i + 1 });
    const t = performance.now() - t0;
    if (i < WARMUP) continue;
    convert.push(f.convertMs);
    encode.push(f.encodeMs);
    total.push(t);
    rest.push(t - f.convertMs - f.encodeMs); // FFI round trip, packet copy, bookkeeping
    bytes += f.data.length;
    if (f.keyframe) keyframes++;
  }
  enc.close();
  for (const a of [convert, encode, total, rest]) a.sort((x, y) => x - y);
  const row = {
    in: `${c.inW}x${c.inH}`,
    out: `${c.outW}x${c.outH}`,
    profile: c.profile ?? "main",
    convert_p50_ms: r3(percentile(convert, 50)),
    convert_p99_ms: r3(percentile(convert, 99)),
    encode_p50_ms: r3(percentile(encode, 50)),
    encode_p99_ms: r3(percentile(encode, 99)),
    total_p50_ms: r3(percentile(total, 50)),
    total_p99_ms: r3(percentile(total, 99)),
  };
  results.push(row);
  const kbps = defaultBitrateKbps(c.outW, c.outH, FPS);
  console.log(
    `${row.in} -> ${row.out} ${row.profile} ${enc.name} ${kbps} kbps, ${FRAMES} frames ` +
      `(avg ${Math.round(bytes / FRAMES)} B/frame, ${keyframes} IDR):\n` +
      `  convert p50 ${row.convert_p50_ms} p99 ${row.convert_p99_ms} ms | ` +
      `encode p50 ${row.encode_p50_ms} p99 ${row.encode_p99_ms} ms | ` +
      `total p50 ${row.total_p50_ms} p99 ${row.total_p99_ms} ms | ` +
      `rest (FFI + copy) p50 ${r3(percentile(rest, 50))} ms`,
  );
}
console.log(JSON.stringify({ encoder: encoderName, cases: results }));

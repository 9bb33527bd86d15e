/**
 * JPEG encoder benchmark: `deno run -A scripts/bench_jpeg.ts [--frames N] [--quality Q]
 * [--no-sweep]` (after `deno task build:native`).
 *
 * 1. Timing at one quality (default DEFAULT_JPEG_QUALITY): 640x360, 1280x720 and 1920x1080 from
 *    same-size input, and 1920x1080 → 640x360 (the scaler on the path), on the moving scene of
 *    bench_encode.ts (scripts/bench_scene.ts), each frame stamped before it is encoded (not
 *    timed). "total" is the whole nonblocking call as TS sees it. Beside it, x264 on the same
 *    720p frames: the ms-per-megapixel ratio the encode budget weighs JPEG sessions with.
 * 2. Quality sweep at 1280x720: bytes per frame, encode time, PSNR and SSIM against the source
 *    (ffmpeg, RGB planes), and whether the frame stamp still reads after the JPEG at 720p and
 *    after a downscale to 320x180 (the smallest width class).
 *
 * Prints a table per part and, as the LAST line, one JSON object for machines.
 */
import { DEFAULT_JPEG_QUALITY, JpegEncoder } from "../ffi/jpeg.ts";
import { H264Encoder } from "../ffi/encoder.ts";
import { native } from "../ffi/lib.ts";
import { readStamp } from "../protocol/stamp.ts";
import { renderFrame } from "./bench_scene.ts";

const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const FRAMES = Number(arg("--frames") ?? 400);
const QUALITY = Number(arg("--quality") ?? DEFAULT_JPEG_QUALITY);
const SWEEP = !Deno.args.includes("--no-sweep");
const SET = 32;
const WARMUP = 20;
const SWEEP_QUALITIES = [50, 60, 70, 75, 80, 85, 90, 95];

const n = native();
const r3 = (v: number) => Math.round(v * 1000) / 1000;
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const scenes = new Map<string, Uint8Array<ArrayBuffer>[]>();
function scene(w: number, h: number): Uint8Array<ArrayBuffer>[] {
  const key = `${w}x${h}`;
  let s = scenes.get(key);
  if (!s) scenes.set(key, s = Array.from({ length: SET }, (_, i) => renderFrame(w, h, i)));
  return s;
}
function pick(frames: Uint8Array<ArrayBuffer>[], i: number, w: number, h: number) {
  const k = i % (2 * SET);
  const px = frames[k < SET ? k : 2 * SET - 1 - k]; // forward, then backward
  n.smx_stamp_write(px, w, h, w * 4, 1, i + 1, n.smx_now_us());
  return px;
}

interface Timing {
  in: string;
  out: string;
  quality: number;
  convert_p50_ms: number;
  encode_p50_ms: number;
  encode_p99_ms: number;
  total_p50_ms: number;
  total_p99_ms: number;
  bytes_per_frame: number;
  ms_per_mpx: number;
}

async function timeJpeg(inW: number, inH: number, outW: number, outH: number): Promise<Timing> {
  const frames = scene(inW, inH);
  using enc = JpegEncoder.open({ width: outW, height: outH, quality: QUALITY });
  const convert: number[] = [], encode: number[] = [], total: number[] = [];
  let bytes = 0;
  for (let i = 0; i < FRAMES + WARMUP; i++) {
    const px = pick(frames, i, inW, inH);
    const t0 = performance.now();
    const f = await enc.encodeRgba(px, inW, inH, { frame: i + 1 });
    const t = performance.now() - t0;
    if (i < WARMUP) continue;
    convert.push(f.convertMs);
    encode.push(f.encodeMs);
    total.push(t);
    bytes += f.data.byteLength;
  }
  const cpu = convert.map((c, i) => c + encode[i]);
  return {
    in: `${inW}x${inH}`,
    out: `${outW}x${outH}`,
    quality: QUALITY,
    convert_p50_ms: r3(percentile(convert, 50)),
    encode_p50_ms: r3(percentile(encode, 50)),
    encode_p99_ms: r3(percentile(encode, 99)),
    total_p50_ms: r3(percentile(total, 50)),
    total_p99_ms: r3(percentile(total, 99)),
    bytes_per_frame: Math.round(bytes / FRAMES),
    ms_per_mpx: r3(percentile(cpu, 50) / (outW * outH / 1e6)),
  };
}

/** x264 (the session's encoder) on the same 720p frames: convert + encode ms per megapixel. */
async function h264MsPerMpx(w: number, h: number): Promise<number> {
  const frames = scene(w, h);
  using enc = await H264Encoder.open({ width: w, height: h, fps: 60 });
  const cpu: number[] = [];
  for (let i = 0; i < FRAMES / 2 + WARMUP; i++) {
    const f = await enc.encodeRgba(pick(frames, i, w, h), w, h, { frame: i + 1 });
    if (i >= WARMUP) cpu.push(f.convertMs + f.encodeMs);
  }
  return r3(percentile(cpu, 50) / (w * h / 1e6));
}

interface SweepRow {
  quality: number;
  bytes_per_frame: number;
  bpp: number;
  encode_p50_ms: number;
  psnr_db: number;
  ssim: number;
  stamp_720p: boolean;
  stamp_320x180: boolean;
}

async function ffmpegQuality(
  dir: string,
  w: number,
  h: number,
): Promise<{ psnr: number; ssim: number }> {
  const out = await new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-nostats",
      ...["-f", "rawvideo", "-pix_fmt", "bgra", "-s", `${w}x${h}`, "-i", `${dir}/src.raw`],
      ...["-f", "image2", "-i", `${dir}/%03d.jpg`],
      "-lavfi",
      "[0:v]format=gbrp,split[a1][a2];[1:v]format=gbrp,split[b1][b2];[b1][a1]psnr;[b2][a2]ssim",
      ...["-f", "null", "-"],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr);
  const psnr = Number(/PSNR .*average:([\d.]+|inf)/.exec(text)?.[1] ?? NaN);
  const ssim = Number(/SSIM .*All:([\d.]+)/.exec(text)?.[1] ?? NaN);
  if (!out.success || !Number.isFinite(ssim)) throw new Error(`ffmpeg failed:\n${text}`);
  return { psnr, ssim };
}

/** Decodes a JPEG to RGB with ffmpeg (the stamp check reads the decoded picture). */
async function decodeRgb(jpeg: Uint8Array): Promise<Uint8Array> {
  const p = new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-f",
      "image2pipe",
      "-i",
      "-",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = p.stdin.getWriter();
  await writer.write(jpeg);
  await writer.close();
  const out = await p.output();
  return out.stdout;
}

async function sweep(): Promise<SweepRow[]> {
  const w = 1280, h = 720, sample = 8;
  const frames = scene(w, h);
  const rows: SweepRow[] = [];
  for (const q of SWEEP_QUALITIES) {
    const dir = await Deno.makeTempDir({ prefix: "smx-jpeg-q" });
    try {
      using enc = JpegEncoder.open({ width: w, height: h, quality: q });
      using small = JpegEncoder.open({ width: 320, height: 180, quality: q });
      const src = await Deno.open(`${dir}/src.raw`, { write: true, create: true });
      const encode: number[] = [];
      let bytes = 0, stamp720 = true, stamp320 = true;
      for (let i = 0; i < 120; i++) {
        const px = pick(frames, i * 3, w, h);
        const f = await enc.encodeRgba(px, w, h, { frame: i + 1 });
        encode.push(f.encodeMs);
        bytes += f.data.byteLength;
        if (i % (120 / sample) !== 0) continue;
        const k = i / (120 / sample);
        await src.write(px);
        await Deno.writeFile(`${dir}/${String(k + 1).padStart(3, "0")}.jpg`, f.data);
        const want = readStamp(px, w, h, { channels: "bgra" });
        const got = readStamp(await decodeRgb(f.data), w, h, { channels: "rgb" });
        stamp720 &&= !!got && got.frame === want?.frame;
        const s = await small.encodeRgba(px, w, h, { frame: i + 1 });
        const gotSmall = readStamp(await decodeRgb(s.data), 320, 180, { channels: "rgb" });
        stamp320 &&= !!gotSmall && gotSmall.frame === want?.frame;
      }
      src.close();
      const { psnr, ssim } = await ffmpegQuality(dir, w, h);
      rows.push({
        quality: q,
        bytes_per_frame: Math.round(bytes / 120),
        bpp: r3(bytes * 8 / 120 / (w * h)),
        encode_p50_ms: r3(percentile(encode, 50)),
        psnr_db: Math.round(psnr * 100) / 100,
        ssim: Math.round(ssim * 10000) / 10000,
        stamp_720p: stamp720,
        stamp_320x180: stamp320,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return rows;
}

const timings: Timing[] = [];
for (
  const [iw, ih, ow, oh] of [[640, 360, 640, 360], [1280, 720, 1280, 720], [
    1920,
    1080,
    1920,
    1080,
  ], [1920, 1080, 640, 360]]
) {
  const t = await timeJpeg(iw, ih, ow, oh);
  timings.push(t);
  console.log(
    `${t.in} -> ${t.out} JPEG q${t.quality}, ${FRAMES} frames, ${t.bytes_per_frame} B/frame: ` +
      `convert p50 ${t.convert_p50_ms} | encode p50 ${t.encode_p50_ms} p99 ${t.encode_p99_ms} | ` +
      `total p50 ${t.total_p50_ms} p99 ${t.total_p99_ms} ms | ${t.ms_per_mpx} ms/Mpx`,
  );
}
const h264 = await h264MsPerMpx(1280, 720);
const jpeg720 = timings.find((t) => t.out === "1280x720" && t.in === "1280x720")!.ms_per_mpx;
const ratio = r3(jpeg720 / h264);
console.log(`x264 on the same 720p frames: ${h264} ms/Mpx; JPEG/H.264 cost ratio ${ratio}`);

let rows: SweepRow[] = [];
if (SWEEP) {
  rows = await sweep();
  console.log("quality sweep at 1280x720 (PSNR/SSIM: ffmpeg on RGB planes, 8 frames):");
  for (const r of rows) {
    console.log(
      `  q${r.quality}: ${r.bytes_per_frame} B/frame (${r.bpp} bit/px), encode p50 ` +
        `${r.encode_p50_ms} ms, PSNR ${r.psnr_db} dB, SSIM ${r.ssim}, stamp 720p ` +
        `${r.stamp_720p ? "ok" : "LOST"}, 320x180 ${r.stamp_320x180 ? "ok" : "LOST"}`,
    );
  }
}
console.log(
  JSON.stringify({ quality: QUALITY, cases: timings, h264_ms_per_mpx: h264, ratio, sweep: rows }),
);

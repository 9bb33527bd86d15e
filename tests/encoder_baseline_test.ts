/**
 * Constrained Baseline sessions (`H264Encoder.open({ …, profile: "baseline" })`), the rendition
 * for decoders without CABAC (the WASM decoder of pages that are not a secure context,
 * ui/video/wasm_h264/): what ffprobe and the SPS/PPS say, that every frame decodes at once and
 * keeps its stamp, IDRs on request, and a refused profile name.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidArgumentError } from "../ffi/errors.ts";
import { type EncodedFrame, H264Encoder } from "../ffi/encoder.ts";
import { readStamp, writeStamp } from "../protocol/stamp.ts";

/** A moving scene (gradient + a bright square) in BGRA. */
function scene(w: number, h: number, t: number): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      px[o] = (x + t * 3) & 255;
      px[o + 1] = (y * 2) & 255;
      px[o + 2] = 96;
      px[o + 3] = 255;
    }
  }
  const s = h >> 2, x0 = (t * 5) % (w - s), y0 = (h - s) >> 1;
  for (let y = y0; y < y0 + s; y++) px.fill(230, (y * w + x0) * 4, (y * w + x0 + s) * 4);
  return px;
}

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

async function run(cmd: string, args: string[]): Promise<{ out: Uint8Array; err: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const err = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${err}`);
  return { out: r.stdout, err };
}

async function withStream<T>(frames: EncodedFrame[], fn: (path: string) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "smx-enc-base-" });
  try {
    const path = join(dir, "stream.h264");
    const all = new Uint8Array(frames.reduce((n, f) => n + f.data.length, 0));
    let o = 0;
    for (const f of frames) {
      all.set(f.data, o);
      o += f.data.length;
    }
    await Deno.writeFile(path, all);
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("baseline: ffprobe sees Constrained Baseline; CAVLC, no 8x8, no reordering", async () => {
  // 640x360 has a cropped last macroblock row (368 coded lines), like every 360p rendition.
  const [w, h] = [640, 360];
  using enc = await H264Encoder.open({ width: w, height: h, fps: 30, profile: "baseline" });
  assert.equal(enc.name, "libx264"); // no GPU here
  assert.equal(enc.profile, "baseline");
  assert.match(enc.codec, /^avc1\.42c0[0-9a-f]{2}$/);
  const frames: EncodedFrame[] = [];
  for (let t = 0; t < 12; t++) frames.push(await enc.encodeRgba(scene(w, h, t), w, h));
  assert.ok(frames[0].keyframe && frames.slice(1).every((f) => !f.keyframe));
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
    assert.equal(s.profile, "Constrained Baseline");
    assert.equal(s.pix_fmt, "yuv420p");
    assert.equal(s.width, w);
    assert.equal(s.height, h);
    assert.equal(s.has_b_frames, 0);
    assert.equal(enc.codec, `avc1.42c0${s.level.toString(16).padStart(2, "0")}`);
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
      new Set([...err.matchAll(new RegExp(`\\s${name}\\s+\\S+ = (\\d+)`, "g"))].map((m) => +m[1]));
    assert.deepEqual(field("profile_idc"), new Set([66]));
    assert.deepEqual(field("constraint_set1_flag"), new Set([1])); // "constrained"
    assert.deepEqual(field("entropy_coding_mode_flag"), new Set([0])); // CAVLC
    assert.deepEqual(field("num_slice_groups_minus1"), new Set([0])); // no FMO
    // Baseline's PPS has no transform_8x8_mode_flag at all (it is a High-profile extension).
    assert.deepEqual(field("transform_8x8_mode_flag"), new Set());
    assert.deepEqual(field("bitstream_restriction_flag"), new Set([1]));
    assert.deepEqual(field("max_num_reorder_frames"), new Set([0]));
  });
});

Deno.test("baseline: every frame decodes at once with its stamp; IDRs where asked", async () => {
  const [w, h] = [320, 180];
  // 1 Mbit/s: at the 300 kbit/s floor of defaultBitrateKbps a 60 fps frame gets 625 bytes, and a
  // CAVLC IDR of this scene needs more than that (CABAC's fits): the stamp would be blurred away.
  using enc = await H264Encoder.open({
    width: w,
    height: h,
    fps: 60,
    bitrateKbps: 1000,
    profile: "baseline",
  });
  const base = 1_760_000_000_000_000 + Math.floor(Math.random() * 1e9);
  const written: { frame: number; captureUs: number }[] = [];
  const frames: EncodedFrame[] = [];
  for (let t = 0; t < 16; t++) {
    if (t === 11) enc.requestIdr();
    const px = scene(w, h, t);
    const stamp = { frame: 500 + t, captureUs: base + t * 16_667 };
    writeStamp(px, w, h, stamp, { channels: "bgra" });
    written.push(stamp);
    const f = await enc.encodeRgba(px, w, h, { ...stamp, forceIdr: t === 6 });
    const types = nalTypes(f.data);
    assert.equal(f.keyframe, types.includes(5), `frame ${t}: keyframe flag matches the NALs`);
    if (f.keyframe) assert.ok(types.indexOf(7) >= 0 && types.indexOf(7) < types.indexOf(5));
    frames.push(f);
  }
  assert.deepEqual(frames.flatMap((f, i) => f.keyframe ? [i] : []), [0, 6, 11]);
  const decoded = await withStream(frames, async (path) =>
    (await run("ffmpeg", [
      "-v",
      "error",
      "-i",
      path,
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ])).out);
  const size = w * h * 3;
  assert.equal(decoded.length, size * frames.length, "every frame decodes");
  for (let i = 0; i < frames.length; i++) {
    const got = readStamp(decoded.subarray(i * size, (i + 1) * size), w, h, {
      channels: "rgb",
      nowUs: base,
    });
    assert.deepEqual(got, written[i], `stamp of frame ${i}`);
  }
});

Deno.test("main stays the default; an unknown profile is refused before anything opens", async () => {
  using enc = await H264Encoder.open({ width: 64, height: 64, fps: 30 });
  assert.equal(enc.profile, "main");
  assert.match(enc.codec, /^avc1\.4d40/);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    H264Encoder.open({ width: 64, height: 64, fps: 30, profile: "high" as any }),
    (e) =>
      e instanceof InvalidArgumentError && /profile must be "main" or "baseline"/.test(e.message),
  );
});

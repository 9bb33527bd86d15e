/**
 * SPS rewrite (ffi/native/sps_rewrite.c): FFmpeg 5.1's h264_nvenc writes no VUI
 * bitstream_restriction, so decoders may hold frames back; the shim adds it. No NVENC here, so
 * x264 streams stand in: their restriction (or their whole VUI) is stripped by the same module,
 * then put back, and ffmpeg's own parser (`-bsf:v trace_headers`) and decoder judge the result:
 * bitstream_restriction_flag = 1, max_num_reorder_frames = 0, max_dec_frame_buffering =
 * max_num_ref_frames, every other SPS field as x264 wrote it, and the same decoded frames (count
 * and pixels, framemd5) as the original stream.
 *
 * The C module runs through ffi/native/tests/sps_tool.c, built here with -Werror under ASan and
 * UBSan. Streams cover Baseline with NAL HRD and cropping, Main with 3 reference frames, High with
 * scaling matrices, several IDRs each, and SPS with emulation prevention bytes (x264's timing
 * info always has some).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const native = join(root, "ffi", "native");

async function run(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
): Promise<{ code: number; out: Uint8Array; err: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { ASAN_OPTIONS: "detect_leaks=1", UBSAN_OPTIONS: "halt_on_error=1" },
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const r = await child.output();
  return { code: r.code, out: r.stdout, err: new TextDecoder().decode(r.stderr) };
}

let toolPath: string | undefined;
async function tool(): Promise<string> {
  if (toolPath) return toolPath;
  const dir = await Deno.makeTempDir({ prefix: "smx-sps-" });
  const out = join(dir, "sps_tool");
  const r = await run("gcc", [
    "-std=gnu11",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-o",
    out,
    join(native, "tests", "sps_tool.c"),
    join(native, "sps_rewrite.c"),
    join(native, "smx_common.c"),
  ]);
  assert.equal(r.code, 0, `sps_tool did not build:\n${r.err}`);
  return (toolPath = out);
}

async function sps(mode: "fix" | "strip" | "strip-vui", stream: Uint8Array): Promise<Uint8Array> {
  const r = await run(await tool(), [mode], stream);
  assert.equal(r.code, 0, `sps_tool ${mode} failed: ${r.err}`);
  return r.out;
}

/** An x264 stream of `frames` frames from ffmpeg's test source, an IDR every `gop`. */
async function x264(size: string, x264Params: string, profile: string, frames = 36, gop = 12) {
  const r = await run("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=s=${size}:r=30`,
    "-frames:v",
    String(frames),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-profile:v",
    profile,
    "-g",
    String(gop),
    "-x264-params",
    x264Params,
    "-f",
    "h264",
    "-",
  ]);
  assert.equal(r.code, 0, r.err);
  return r.out;
}

async function withFile<T>(data: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".h264" });
  try {
    await Deno.writeFile(path, data);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** [field, value, bits as written] */
type Fields = [string, number, string][];

/** Every SPS of the stream as ffmpeg's trace_headers parses it: [field, value] in order. */
function spsBlocks(stream: Uint8Array): Promise<Fields[]> {
  return withFile(stream, async (path) => {
    const r = await run("ffmpeg", [
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
    assert.equal(r.code, 0, r.err);
    const blocks: Fields[] = [];
    let cur: Fields | null = null;
    for (const line of r.err.split("\n")) {
      const m = line.match(/^\[trace_headers @ \S+\] \d+\s+(\S+)\s+([01]+) = (-?\d+)$/);
      if (m) {
        cur?.push([m[1], +m[3], m[2]]);
        continue;
      }
      cur = /\] Sequence Parameter Set$/.test(line) ? [] : null;
      if (cur) blocks.push(cur);
    }
    // raw .h264 input: the first SPS is shown twice (as extradata and in its packet)
    assert.ok(blocks.length > 0, "no SPS in the stream");
    return blocks;
  });
}

function get(f: Fields, name: string): number | undefined {
  return f.find(([k]) => k === name)?.[1];
}

/** Decoded frames: count and an md5 of every picture, in output order. */
function decode(stream: Uint8Array): Promise<string[]> {
  return withFile(stream, async (path) => {
    const r = await run("ffmpeg", ["-v", "error", "-i", path, "-f", "framemd5", "-"]);
    assert.equal(r.code, 0, r.err);
    return new TextDecoder().decode(r.out).split("\n").filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(",").at(-1)!.trim());
  });
}

const RESTRICTION = [
  "bitstream_restriction_flag",
  "motion_vectors_over_pic_boundaries_flag",
  "max_bytes_per_pic_denom",
  "max_bits_per_mb_denom",
  "log2_max_mv_length_horizontal",
  "log2_max_mv_length_vertical",
  "max_num_reorder_frames",
  "max_dec_frame_buffering",
];
const TRAILER = ["rbsp_stop_one_bit", "rbsp_alignment_zero_bit"];

/** The fields before the restriction (the rest of the SPS and VUI). */
function withoutRestriction(f: Fields): [string, number][] {
  return f.filter(([k]) => !RESTRICTION.includes(k) && !TRAILER.includes(k)).map(([k, v]) => [
    k,
    v,
  ]);
}

/** An SPS NAL unit (escaped) from field bits, with the RBSP trailing bits added. */
function spsFromBits(bits: string): Uint8Array {
  bits += "1";
  while (bits.length % 8) bits += "0";
  const rbsp = [];
  for (let i = 0; i < bits.length; i += 8) rbsp.push(parseInt(bits.slice(i, i + 8), 2));
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return new Uint8Array(out);
}

/** The stream with every SPS NAL unit replaced by `nal`. */
function replaceSps(stream: Uint8Array, nal: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < stream.length) {
    if (
      i + 3 < stream.length && stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1 &&
      (stream[i + 3] & 0x1f) === 7
    ) {
      let end = i + 3;
      while (
        end + 3 <= stream.length &&
        !(stream[end] === 0 && stream[end + 1] === 0 && stream[end + 2] <= 1)
      ) end++;
      out.push(0, 0, 1, ...nal);
      i = end;
    } else {
      out.push(stream[i++]);
    }
  }
  return new Uint8Array(out);
}

/** Raw SPS NAL payloads (from the header byte), escaped as in the stream. */
function rawSps(stream: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 3 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) {
      let end = i + 3;
      while (
        end + 3 <= stream.length &&
        !(stream[end] === 0 && stream[end + 1] === 0 && stream[end + 2] <= 1)
      ) end++;
      if ((stream[i + 3] & 0x1f) === 7) out.push(stream.subarray(i + 3, end));
      i = end - 1;
    }
  }
  return out;
}

function hasEmulationPrevention(nal: Uint8Array): boolean {
  for (let i = 0; i + 2 < nal.length; i++) {
    if (nal[i] === 0 && nal[i + 1] === 0 && nal[i + 2] === 3) return true;
  }
  return false;
}

const CASES = [
  // Baseline with NAL HRD parameters in the VUI and frame cropping (322x182 → 21x12 MBs).
  {
    name: "baseline, NAL HRD, cropping",
    size: "322x182",
    profile: "baseline",
    params: "bframes=0:scenecut=0:nal-hrd=cbr:bitrate=400:vbv-maxrate=400:vbv-bufsize=400",
  },
  { name: "main, 3 reference frames", size: "320x240", profile: "main", params: "bframes=0:ref=3" },
  // High: chroma_format_idc and the other High fields, 8x8 transform.
  {
    name: "high, 8x8 transform",
    size: "256x144",
    profile: "high",
    params: "bframes=0:8x8dct=1:ref=2",
  },
];

for (const c of CASES) {
  Deno.test(`sps rewrite: ${c.name}: stripped restriction comes back, frames identical`, async () => {
    const original = await x264(c.size, c.params, c.profile);
    const orig = await spsBlocks(original);
    assert.ok(orig.length >= 3, "several IDRs, each with its SPS");
    assert.ok(rawSps(original).every(hasEmulationPrevention), "x264's SPS carry 00 00 03");
    for (const f of orig) {
      assert.equal(get(f, "bitstream_restriction_flag"), 1, "x264 writes the restriction");
    }
    const refs = get(orig[0], "max_num_ref_frames")!;

    // x264's own output already satisfies the rule: unchanged, byte for byte.
    assert.deepEqual(await sps("fix", original), original);

    const stripped = await sps("strip", original);
    const s = await spsBlocks(stripped);
    for (const f of s) assert.equal(get(f, "bitstream_restriction_flag"), 0);
    for (const f of s) assert.equal(get(f, "max_num_reorder_frames"), undefined);

    const fixed = await sps("fix", stripped);
    const fx = await spsBlocks(fixed);
    assert.equal(fx.length, orig.length);
    for (const [i, f] of fx.entries()) {
      assert.equal(get(f, "bitstream_restriction_flag"), 1);
      assert.equal(get(f, "max_num_reorder_frames"), 0);
      assert.equal(get(f, "max_dec_frame_buffering"), refs);
      assert.equal(get(f, "max_num_ref_frames"), refs);
      // The values E.2.1 infers for an absent restriction: no constraint added.
      assert.equal(get(f, "motion_vectors_over_pic_boundaries_flag"), 1);
      assert.equal(get(f, "max_bytes_per_pic_denom"), 2);
      assert.equal(get(f, "max_bits_per_mb_denom"), 1);
      assert.equal(get(f, "log2_max_mv_length_horizontal"), 16);
      assert.equal(get(f, "log2_max_mv_length_vertical"), 16);
      // Every other field (SPS, VUI, HRD, scaling lists) as x264 wrote it.
      assert.deepEqual(withoutRestriction(f), withoutRestriction(orig[i]));
    }
    // Rewriting again changes nothing.
    assert.deepEqual(await sps("fix", fixed), fixed);

    const want = await decode(original);
    assert.equal(want.length, 36);
    assert.deepEqual(await decode(fixed), want, "same pictures, frame for frame");
    assert.deepEqual(await decode(stripped), want);
  });
}

Deno.test("sps rewrite: an SPS without any VUI gets one holding only the restriction", async () => {
  const original = await x264("320x180", "bframes=0:ref=2", "main");
  const noVui = await sps("strip-vui", original);
  for (const f of await spsBlocks(noVui)) {
    assert.equal(get(f, "vui_parameters_present_flag"), 0);
  }
  const fixed = await sps("fix", noVui);
  const orig = await spsBlocks(original);
  for (const [i, f] of (await spsBlocks(fixed)).entries()) {
    assert.equal(get(f, "vui_parameters_present_flag"), 1);
    for (
      const flag of [
        "aspect_ratio_info_present_flag",
        "overscan_info_present_flag",
        "video_signal_type_present_flag",
        "chroma_loc_info_present_flag",
        "timing_info_present_flag",
        "nal_hrd_parameters_present_flag",
        "vcl_hrd_parameters_present_flag",
        "pic_struct_present_flag",
      ]
    ) assert.equal(get(f, flag), 0, flag);
    assert.equal(get(f, "bitstream_restriction_flag"), 1);
    assert.equal(get(f, "max_num_reorder_frames"), 0);
    assert.equal(get(f, "max_dec_frame_buffering"), 2);
    const before = (x: Fields) =>
      x.slice(0, x.findIndex(([k]) => k === "vui_parameters_present_flag"));
    assert.deepEqual(before(f), before(orig[i]), "the SPS before its VUI is untouched");
  }
  assert.deepEqual(await decode(fixed), await decode(original));
});

Deno.test("sps rewrite: a restriction that allows reordering is set to 0, its other fields kept", async () => {
  // x264 with B-frames writes max_num_reorder_frames = 1. (The rewrite is only for streams
  // without B-frames, as every smx encoder's; here only the header is checked.)
  const original = await x264("192x108", "bframes=2:b-pyramid=0:ref=2", "main", 24, 12);
  const orig = await spsBlocks(original);
  assert.ok(orig.every((f) => (get(f, "max_num_reorder_frames") ?? 0) > 0));
  const fixed = await spsBlocks(await sps("fix", original));
  for (const [i, f] of fixed.entries()) {
    assert.equal(get(f, "max_num_reorder_frames"), 0);
    assert.equal(get(f, "max_dec_frame_buffering"), get(orig[i], "max_num_ref_frames"));
    for (const k of RESTRICTION.slice(0, 6)) assert.equal(get(f, k), get(orig[i], k), k);
    assert.deepEqual(withoutRestriction(f), withoutRestriction(orig[i]));
  }
});

Deno.test("sps rewrite: a truncated SPS is refused with a reason, never rewritten blindly", async () => {
  const original = await x264("160x90", "bframes=0", "baseline", 3, 3);
  const nal = rawSps(original)[0];
  const start = nal.byteOffset - original.byteOffset;
  // Cut the SPS in the middle of its VUI: start code + half the SPS, then the rest of the stream.
  const cut = new Uint8Array([
    ...original.subarray(0, start + 12),
    ...original.subarray(start + nal.length),
  ]);
  const r = await run(await tool(), ["fix"], cut);
  assert.equal(r.code, 1);
  assert.match(r.err, /SPS not understood/);
});

Deno.test("sps rewrite: an SPS with scaling lists (explicitly flat) keeps them", async () => {
  // x264 puts its scaling matrices in the PPS, so the SPS's own scaling lists are written here:
  // x264's High SPS with seq_scaling_matrix_present_flag = 1 and all 8 lists present and flat
  // (first delta_scale 8, then 0), which decodes exactly like no matrix at all.
  const original = await x264("256x144", "bframes=0:8x8dct=1:ref=2", "high", 24, 8);
  const [f] = await spsBlocks(original);
  assert.equal(get(f, "seq_scaling_matrix_present_flag"), 0);
  const flat = (size: number) => "1" + "000010000" + "1".repeat(size - 1);
  let bits = "";
  for (const [k, , b] of f) {
    if (TRAILER.includes(k)) continue;
    if (k === "seq_scaling_matrix_present_flag") {
      bits += "1";
      for (let i = 0; i < 8; i++) bits += flat(i < 6 ? 16 : 64);
    } else {
      bits += b;
    }
  }
  const withLists = replaceSps(original, spsFromBits(bits));
  const want = await decode(original);
  assert.deepEqual(await decode(withLists), want, "explicit flat lists decode like none");
  const listed = await spsBlocks(withLists);
  assert.equal(get(listed[0], "seq_scaling_matrix_present_flag"), 1);

  const stripped = await sps("strip", withLists);
  assert.equal(get((await spsBlocks(stripped))[0], "bitstream_restriction_flag"), 0);
  const fixed = await sps("fix", stripped);
  for (const [i, g] of (await spsBlocks(fixed)).entries()) {
    assert.equal(get(g, "bitstream_restriction_flag"), 1);
    assert.equal(get(g, "max_num_reorder_frames"), 0);
    assert.equal(get(g, "max_dec_frame_buffering"), 2);
    assert.deepEqual(withoutRestriction(g), withoutRestriction(listed[i]));
  }
  assert.deepEqual(await decode(fixed), want);
});

Deno.test("sps rewrite: 300 000 mutated SPS (flips, cuts, inserts, zero runs) never break it", async () => {
  // Under ASan/UBSan: any out-of-bounds access or undefined behaviour aborts the tool. Every SPS
  // that FIX rewrites must parse again with the restriction, be left alone by a second FIX, carry
  // its emulation prevention bytes and grow by at most SMX_SPS_MAX_GROWTH.
  const withHrd = await x264(
    "322x182",
    "bframes=0:nal-hrd=cbr:bitrate=400:vbv-maxrate=400:vbv-bufsize=400",
    "baseline",
    3,
    3,
  );
  const high = await x264("256x144", "bframes=0:8x8dct=1:ref=2", "high", 3, 3);
  const noVui = await sps("strip-vui", await x264("160x90", "bframes=0", "main", 3, 3));
  for (const [i, stream] of [withHrd, high, noVui].entries()) {
    const r = await run(await tool(), ["fuzz", "100000", String(i + 1)], stream);
    assert.equal(r.code, 0, r.err);
    const [count, parsed, fixed] = new TextDecoder().decode(r.out).trim().split(" ").map(Number);
    assert.equal(count, 100000);
    assert.ok(
      parsed > 1000 && fixed > 100,
      `mutations that still parse: ${parsed}, fixed ${fixed}`,
    );
  }
});

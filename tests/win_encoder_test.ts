/**
 * The Windows encoder, as far as Linux can take it (no Windows, no NVIDIA GPU here):
 *
 * - its decisions, in portable C (ffi/native/win/nvenc_params.c, mf_convert.c), built with the
 *   host gcc under ASan/UBSan through ffi/native/win/tests/params_test.c: NVENC's session
 *   parameters (P1 + ultra-low-latency, CBR with a one-frame VBV, no B-frames, infinite GOP with
 *   SPS/PPS on every IDR, no lookahead, zero reorder delay, the profile's entropy coding, VUI
 *   colour and bitstream_restriction), the rate math, where the picture goes in the output,
 *   NVENC status names, the driver-version and session-limit messages, Media Foundation's
 *   settings, and the CPU BGRA→NV12 fallback conversion against the BT.601 formula;
 * - every Windows C file of the encoder compiles with mingw-w64 with warnings as errors, and
 *   links with the portable sources into a DLL that exports the whole FFI section
 *   (ffi/symbols/win_encoder.ts) — loudly failing when the cross compiler is missing;
 * - under Wine (ffi/native/win/tests/encoder_wine.c, under Xvfb when there is one so that Wine's
 *   D3D11 makes a device): the code loads and runs, NVENC is passed over with the real reason,
 *   the error model holds, capabilities come back as JSON; then with a stand-in nvEncodeAPI64.dll
 *   (tests/fake_nvenc.c, in the prefix's System32, checking struct versions and smx's settings)
 *   nvenc.c's calls run in their order: sessions open, the codec string comes from the driver's
 *   SPS, the third session hits the limit (status -100, the sentence), one frees on close, an old
 *   driver is named. Wine 8 has neither a D3D11 video device nor a Media Foundation H.264
 *   encoder, so no frame is encoded there (the harness says "skip");
 * - the TS wrapper's name mapping and its refusal to run off Windows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { winEncoderSymbols } from "../ffi/symbols/win_encoder.ts";
import { windowsPreference, WinH264Encoder } from "../ffi/win_encoder.ts";
import { EncoderError, InvalidArgumentError } from "../ffi/errors.ts";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const native = join(root, "ffi", "native");
const win = join(native, "win");
const NVENC_HEADERS = "/usr/include/ffnvcodec"; // Debian libffmpeg-nvenc-dev
const MINGW = "x86_64-w64-mingw32-gcc"; // Debian gcc-mingw-w64-x86-64

/** The encoder's own C files (the Spout receiver's are another module's). */
const ENCODER_SOURCES = [
  "nvenc_params.c",
  "nvenc.c",
  "d3d11_video_processor.c",
  "mf_convert.c",
  "mf_encoder.c",
  "win_encoder.c",
];

async function run(
  cmd: string,
  args: string[],
  stdin?: Uint8Array,
  env?: Record<string, string>,
) {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const r = await child.output();
  return { code: r.code, out: r.stdout, err: new TextDecoder().decode(r.stderr) };
}

function requireFile(path: string, pkg: string) {
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${path} is missing: apt-get install -y ${pkg}`);
  }
}

let harness: string | undefined;
async function params(): Promise<string> {
  if (harness) return harness;
  requireFile(join(NVENC_HEADERS, "nvEncodeAPI.h"), "libffmpeg-nvenc-dev");
  const out = join(await Deno.makeTempDir({ prefix: "smx-winenc-" }), "params_test");
  const r = await run("gcc", [
    "-std=gnu11",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    `-I${NVENC_HEADERS}`,
    `-I${native}`,
    "-o",
    out,
    join(win, "tests", "params_test.c"),
    join(win, "nvenc_params.c"),
    join(win, "mf_convert.c"),
  ]);
  assert.equal(r.code, 0, `params_test did not build:\n${r.err}`);
  return (harness = out);
}

// deno-lint-ignore no-explicit-any
async function decisions(): Promise<any> {
  const r = await run(await params(), ["params"]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(new TextDecoder().decode(r.out));
}

Deno.test("NVENC session parameters: P1 + ultra low latency, CBR, no B-frames, IDR on request only", async () => {
  const d = await decisions();
  const k = d.constants;
  assert.equal(k.api, "11.1", "the ffnvcodec headers' API version (ENCODER.md's driver table)");
  for (const [name, c] of [["main", d.main], ["baseline", d.baseline]] as const) {
    assert.equal(c.h264, 1, `${name}: H.264`);
    assert.equal(c.p1, 1, `${name}: preset P1`);
    assert.equal(c.tuning, k.ull, `${name}: tuning ULTRA_LOW_LATENCY`);
    assert.equal(c.async, 0, "synchronous mode");
    assert.equal(c.ptd, 1, "the encoder decides picture types; IDRs are forced per picture");
    assert.equal(c.configPtr, 1);
    assert.equal(c.rc, k.cbr, "CBR");
    assert.equal(c.max, c.avg);
    assert.equal(c.vbv, Math.ceil(c.avg / c.fpsNum), "VBV = one frame at the target");
    assert.equal(c.vbvInit, c.vbv);
    assert.equal(c.frameIntervalP, 1, "IPPP: no B-frames (the preset's 3 overridden)");
    assert.equal(c.gop, k.infinite, "infinite GOP (the preset's 250 overridden)");
    assert.equal(c.idrPeriod, k.infinite);
    assert.equal(c.lookahead, 0, "no lookahead (the preset's overridden)");
    assert.equal(c.lookaheadDepth, 0);
    assert.equal(c.zeroReorder, 1);
    assert.equal(c.multiPass, 0);
    assert.equal(c.aqStrength, 5, "what smx does not decide stays the preset's");
    assert.equal(c.repeatSpsPps, 1, "SPS/PPS with every IDR");
    assert.equal(c.disableSpsPps, 0);
    assert.equal(c.maxRefs, 1);
    assert.equal(c.level, 0, "level chosen by the driver");
    assert.deepEqual(
      [c.videoSignal, c.fullRange, c.colourDesc, c.primaries, c.transfer, c.matrix],
      [1, 0, 1, 1, 13, 6],
      "VUI: limited range, BT.709 primaries, sRGB transfer, BT.601 matrix (as on Linux)",
    );
    assert.equal(c.bitstreamRestriction, 1);
    // NVENCAPI_STRUCT_VERSION(ver) = (11 | 1 << 24) | ver << 16 | 7 << 28, some with bit 31
    const api = 11 | (1 << 24);
    assert.equal(c.initVersion, (api | (5 << 16) | (7 << 28) | 0x8000_0000) >>> 0);
    assert.equal(c.configVersion, (api | (7 << 16) | (7 << 28) | 0x8000_0000) >>> 0);
    assert.equal(c.rcVersion, (api | (1 << 16) | (7 << 28)) >>> 0);
  }
  assert.deepEqual([d.main.width, d.main.height, d.main.fpsNum, d.main.fpsDen], [1280, 720, 60, 1]);
  assert.equal(d.main.avg, 4_650_000);
  assert.equal(d.main.profileMain, 1);
  assert.equal(d.main.entropy, k.cabac);
  assert.equal(d.baseline.profileBaseline, 1);
  assert.equal(d.baseline.entropy, k.cavlc, "Constrained Baseline: CAVLC");
  assert.equal(d.baseline.adaptiveTransform, k.atDisable, "no 8x8 transform");
});

Deno.test("rate math: the Linux encoder's (bitrate × opened fps / fps, one-frame buffer), capped at 240 Mbit/s", async () => {
  const d = await decisions();
  for (const [kbps, openFps, fps, avg, max, vbv] of d.rate) {
    const want = Math.min(240e6, Math.floor(kbps * 1000 * openFps / fps));
    assert.equal(avg, want, `${kbps} kbps opened at ${openFps}, now ${fps}`);
    assert.equal(max, avg);
    assert.equal(vbv, Math.ceil(avg / openFps));
  }
});

Deno.test("the picture keeps its aspect: whole output for a rendition, centred bars otherwise", async () => {
  const d = await decisions();
  const byCase = new Map<string, [number[], number[]]>(
    d.fit.map((f: [number, number, number, number, number[], number[]]) => [
      f.slice(0, 4).join("x"),
      [f[4], f[5]],
    ]),
  );
  // renditions of protocol/size_classes.ts: the whole output (an odd source's last column too)
  assert.deepEqual(byCase.get("1920x1080x1280x720")![1], [0, 0, 1280, 720]);
  assert.deepEqual(byCase.get("1917x1079x1916x1078")![1], [0, 0, 1916, 1078]);
  assert.deepEqual(byCase.get("1920x1080x1280x722")![1], [0, 0, 1280, 722], "2 px: no bar");
  // a sender that changed aspect under a running session: letterbox / pillarbox, even edges
  assert.deepEqual(byCase.get("1920x1080x640x480")![1], [0, 60, 640, 420]);
  assert.deepEqual(byCase.get("1080x1920x1280x720")![1], [438, 0, 842, 720]);
  assert.deepEqual(byCase.get("1000x1000x1280x720")![1], [280, 0, 1000, 720]);
  for (const [, [src, dst]] of byCase) {
    assert.deepEqual(src.slice(0, 2), [0, 0], "the whole source");
    assert.ok(dst.every((v) => v % 2 === 0), `even rectangle ${dst}`);
  }
});

Deno.test("NVENC failures are named: driver too old, session limit, no NVENC", async () => {
  const d = await decisions();
  assert.equal(d.names["10"], "NV_ENC_ERR_OUT_OF_MEMORY");
  assert.equal(d.names["21"], "NV_ENC_ERR_INCOMPATIBLE_CLIENT_KEY");
  assert.equal(d.names["999"], "NV_ENC_ERR_999");
  const [v111, v122, v110, v100] = d.version;
  assert.equal(v111[1], 1);
  assert.equal(v122[1], 1, "a newer driver runs older API versions");
  assert.equal(v110[1], 0);
  assert.match(v110[2], /too old for NVENC API 11\.1 \(it supports up to 11\.0\)/);
  assert.match(v110[2], /471\.41 \(Windows\)/);
  assert.equal(v100[1], 0);
  const [oomOpen, oomInit, clientKey, device, other] = d.openFailure;
  assert.equal(oomOpen[2], 1, "out of memory on open = the session limit");
  assert.match(oomOpen[3], /^NVENC session limit reached: 3 sessions open in smx/);
  assert.equal(oomInit[2], 0, "out of memory later is not the session limit");
  assert.equal(clientKey[2], 1, "older drivers say INCOMPATIBLE_CLIENT_KEY for the limit");
  assert.equal(device[2], 2);
  assert.match(device[3], /^no NVENC on this GPU/);
  assert.equal(other[2], 0);
  assert.match(other[3], /nvEncInitializeEncoder failed: NV_ENC_ERR_INVALID_PARAM/);
});

Deno.test("Media Foundation settings: low latency, CBR, no B-frames, long GOP, Constrained Baseline first", async () => {
  const d = await decisions();
  const [w, h, num, den, avg, vbvBytes, p0, p1, gop, bFrames, rc, lowLatency, interlace] =
    d.mf.main;
  assert.deepEqual([w, h, num, den], [1280, 720, 60, 1]);
  assert.equal(avg, 4_650_000);
  assert.equal(vbvBytes, Math.ceil(Math.ceil(avg / 60) / 8));
  assert.deepEqual([p0, p1], [77, 0], "eAVEncH264VProfile_Main");
  assert.equal(gop, 0x7fff_ffff);
  assert.equal(bFrames, 0);
  assert.equal(rc, 0, "eAVEncCommonRateControlMode_CBR");
  assert.equal(lowLatency, 1);
  assert.equal(interlace, 2, "MFVideoInterlace_Progressive");
  assert.deepEqual(d.mf.baseline.slice(6, 8), [256, 66], "ConstrainedBase, then Base");
});

/** BT.601 limited range, 8-bit (libyuv's). */
function yuv(r: number, g: number, b: number): [number, number, number] {
  return [
    ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16,
    ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128,
    ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128,
  ];
}

async function convert(
  px: Uint8Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  format: 1 | 2,
) {
  const r = await run(
    await params(),
    ["convert", `${sw}`, `${sh}`, `${dw}`, `${dh}`, `${format}`],
    px,
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.length, dw * dh * 3 / 2);
  return r.out;
}

Deno.test("CPU fallback conversion: BT.601 limited NV12 from BGRA and RGBA, bars black", async () => {
  // 2x2 blocks of one colour each, so chroma subsampling does not blur them.
  const w = 16, h = 8;
  const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [
    200,
    100,
    50,
  ]];
  const colourAt = (x: number, y: number) => colours[((x >> 1) + (y >> 1) * 3) % colours.length];
  for (const format of [1, 2] as const) {
    const px = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [r, g, b] = colourAt(x, y);
        px.set(format === 1 ? [b, g, r, 255] : [r, g, b, 255], (y * w + x) * 4);
      }
    }
    const nv12 = await convert(px, w, h, w, h, format);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [Y] = yuv(...colourAt(x, y) as [number, number, number]);
        assert.ok(Math.abs(nv12[y * w + x] - Y) <= 1, `Y at ${x},${y}: ${nv12[y * w + x]} vs ${Y}`);
      }
    }
    for (let y = 0; y < h / 2; y++) {
      for (let x = 0; x < w / 2; x++) {
        const [, U, V] = yuv(...colourAt(x * 2, y * 2) as [number, number, number]);
        const o = w * h + y * w + x * 2;
        assert.ok(Math.abs(nv12[o] - U) <= 1 && Math.abs(nv12[o + 1] - V) <= 1, `UV ${x},${y}`);
      }
    }
  }
  // A square picture into a 16:9 output: grey in the middle, black bars left and right.
  const sq = new Uint8Array(32 * 32 * 4).fill(128);
  const out = await convert(sq, 32, 32, 64, 36, 1);
  const [gY] = yuv(128, 128, 128);
  assert.equal(out[18 * 64 + 32], gY, "picture");
  assert.equal(out[18 * 64 + 2], 16, "left bar is black");
  assert.equal(out[18 * 64 + 61], 16, "right bar is black");
  assert.deepEqual([out[64 * 36 + 9 * 64 + 0], out[64 * 36 + 9 * 64 + 1]], [128, 128]);
  // Downscale of a smooth gradient stays smooth and in range.
  const gw = 96, gh = 54;
  const grad = new Uint8Array(gw * gh * 4);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) grad.set([x * 2, x * 2, x * 2, 255], (y * gw + x) * 4);
  }
  const small = await convert(grad, gw, gh, 32, 18, 1);
  for (let x = 1; x < 32; x++) assert.ok(small[9 * 32 + x] >= small[9 * 32 + x - 1], "monotone");
  assert.ok(
    small[9 * 32] <= 20 && small[9 * 32 + 31] >= 170,
    `${small[9 * 32]}…${small[9 * 32 + 31]}`,
  );
});

const MINGW_FLAGS = [
  "-std=gnu11",
  "-O2",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-D_WIN32_WINNT=0x0A00",
  "-DWINVER=0x0A00",
  "-D__USE_MINGW_ANSI_STDIO=1",
  "-DCOBJMACROS",
  `-I${NVENC_HEADERS}`,
  `-I${native}`,
];

async function requireMingw() {
  const v = await run(MINGW, ["--version"]).catch(() => null);
  if (!v || v.code !== 0) {
    throw new Error(`${MINGW} is missing: apt-get install -y gcc-mingw-w64-x86-64`);
  }
  requireFile(join(NVENC_HEADERS, "nvEncodeAPI.h"), "libffmpeg-nvenc-dev");
}

Deno.test("the Windows encoder's C files compile with mingw-w64, warnings as errors", async () => {
  await requireMingw();
  for (const f of ENCODER_SOURCES) {
    const r = await run(MINGW, [...MINGW_FLAGS, "-fsyntax-only", join(win, f)]);
    assert.equal(r.code, 0, `${f}:\n${r.err}`);
  }
  // sps_rewrite.c goes into smx.dll too (every SPS passes through it on Windows)
  const r = await run(MINGW, [...MINGW_FLAGS, "-fsyntax-only", join(native, "sps_rewrite.c")]);
  assert.equal(r.code, 0, r.err);
});

Deno.test("they link into a DLL that exports every symbol of ffi/symbols/win_encoder.ts, and import no Media Foundation DLL", async () => {
  await requireMingw();
  const dir = await Deno.makeTempDir({ prefix: "smx-windll-" });
  try {
    const dll = join(dir, "enc.dll");
    // The Spout receiver's GPU hand-off is another module's: a stand-in keeps the link whole
    // when the tree has no spout.c yet; with it, the real one links.
    let spout: string[] = [];
    try {
      Deno.statSync(join(win, "spout.c"));
      spout = [join(win, "spout.c")];
    } catch {
      const stub = join(dir, "spout_stub.c");
      await Deno.writeTextFile(
        stub,
        `#include "win/spout.h"\nint smx_spout_receiver_gpu_frame(smx_spout_receiver *r, ID3D11Device **d, ID3D11DeviceContext **c, ID3D11Texture2D **t, smx_spout_info *i, int *v) { return SMX_E_IO; }\nvoid smx_spout_receiver_gpu_done(smx_spout_receiver *r) {}\nint64_t smx_spout_receiver_copy_latest(smx_spout_receiver *r, uint8_t *d, uint64_t c, smx_spout_info *o) { return SMX_E_IO; }\nconst char *smx_spout_receiver_error(smx_spout_receiver *r) { return ""; }\n`,
      );
      spout = [stub];
    }
    const r = await run(MINGW, [
      ...MINGW_FLAGS,
      "-O0", // the syntax test above already compiled them as the build does; this is the link
      "-Wno-unused-parameter",
      "-shared",
      "-o",
      dll,
      join(native, "smx_common.c"),
      join(native, "sps_rewrite.c"),
      ...ENCODER_SOURCES.map((f) => join(win, f)),
      ...spout,
      "-static-libgcc",
      "-ld3d11",
      "-ldxgi",
      "-ldxguid",
      "-luuid",
      "-lmfuuid",
      "-lole32",
      "-ladvapi32",
      "-lwinmm",
    ]);
    assert.equal(r.code, 0, `link failed:\n${r.err}`);
    const dump = await run("x86_64-w64-mingw32-objdump", ["-p", dll]);
    const text = new TextDecoder().decode(dump.out);
    for (const name of Object.keys(winEncoderSymbols)) {
      assert.match(text, new RegExp(`\\] ${name}\\b`), `${name} is exported`);
    }
    const dlls = [...text.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase());
    assert.ok(!dlls.some((d) => d.startsWith("mf")), `no MF import (Windows N): ${dlls}`);
    assert.ok(!dlls.includes("nvencodeapi64.dll"), "NVENC is loaded at run time, not imported");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under Wine: loads, names why NVENC is passed over, error model, caps, NVENC's calls through a stand-in driver", async () => {
  await requireMingw();
  const wine = await run("wine", ["--version"]).catch(() => null);
  if (!wine || wine.code !== 0) throw new Error("wine is missing: apt-get install -y wine");
  const dir = await Deno.makeTempDir({ prefix: "smx-winenc-wine-" });
  const env = { WINEPREFIX: join(dir, "prefix"), WINEDEBUG: "-all" };
  try {
    const exe = join(dir, "encoder_wine.exe");
    const b = await run(MINGW, [
      ...MINGW_FLAGS,
      "-O0",
      "-Wno-unused-parameter",
      "-o",
      exe,
      join(win, "tests", "encoder_wine.c"),
      join(native, "smx_common.c"),
      join(native, "sps_rewrite.c"),
      ...ENCODER_SOURCES.map((f) => join(win, f)),
      join(win, "spout.c"),
      "-static-libgcc",
      "-ld3d11",
      "-ldxgi",
      "-ldxguid",
      "-luuid",
      "-lmfuuid",
      "-lole32",
      "-ladvapi32",
      "-lwinmm",
    ]);
    assert.equal(b.code, 0, `harness did not build:\n${b.err}`);
    const xvfb = await run("xvfb-run", ["--help"]).catch(() => null);
    const harness = async (mode: string[], extraEnv: Record<string, string> = {}) => {
      const cmd = xvfb ? "xvfb-run" : "wine";
      const args = xvfb ? ["-a", "wine", exe, ...mode] : [exe, ...mode];
      const child = new Deno.Command(cmd, {
        args,
        env: { ...env, ...extraEnv },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
      const r = await child.output();
      clearTimeout(timer);
      const out = new TextDecoder().decode(r.stdout);
      console.log(out.split("\n").filter((l) => /^(#|skip|not ok)/.test(l)).join("\n"));
      assert.match(out, /^harness: \d+ passed, 0 failed/m, out);
      assert.equal(r.code, 0, out);
      return out;
    };
    // 1. This system as it is: no NVIDIA driver, Wine's D3D11 and Media Foundation.
    const out = await harness([]);
    assert.match(out, /nvenc: NVIDIA driver not installed: nvEncodeAPI64\.dll is not loadable/);
    assert.match(out, /^ok - caps JSON/m);

    // 2. NVENC's calls through a stand-in driver in the prefix's System32 (fake_nvenc.c):
    //    load, version, session, preset, initialize, sequence params, caps, the session limit.
    const fake = join(dir, "nvEncodeAPI64.dll");
    const f = await run(MINGW, [
      ...MINGW_FLAGS,
      "-O0",
      "-Wno-unused-parameter",
      "-shared",
      "-o",
      fake,
      join(win, "tests", "fake_nvenc.c"),
      "-static-libgcc",
    ]);
    assert.equal(f.code, 0, `fake_nvenc did not build:\n${f.err}`);
    await Deno.copyFile(
      fake,
      join(env.WINEPREFIX, "drive_c", "windows", "system32", "nvEncodeAPI64.dll"),
    );
    const nv = await harness(["--fake-nvenc"], { FAKE_NVENC_SESSIONS: "2" });
    if (xvfb) {
      assert.match(nv, /^ok - codec string from nvEncGetSequenceParams/m);
      assert.match(nv, /^ok - a third session: the session limit status \(-100\)/m);
    }
    const old = await harness(["--fake-nvenc-old"], { FAKE_NVENC_VERSION: String(11 << 4) });
    assert.match(old, /^ok - and the message names the versions/m);
  } finally {
    // Stops this prefix's wineserver only (WINEPREFIX names it), never another test's.
    await run("wineserver", ["-k"], undefined, env).catch(() => null);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("TS wrapper: Linux encoder names map to Windows ones; off Windows it refuses to open", async () => {
  assert.equal(windowsPreference(undefined), "");
  assert.equal(windowsPreference(["h264_nvenc", "libx264"]), "nvenc,mf");
  assert.equal(windowsPreference(["libx264", "nvenc", "mf"]), "mf,nvenc");
  assert.throws(() => windowsPreference(["h264_vaapi"]), InvalidArgumentError);
  if (Deno.build.os !== "windows") {
    await assert.rejects(
      () => WinH264Encoder.open({ width: 320, height: 180, fps: 30 }),
      (e: unknown) => e instanceof EncoderError && /Windows only/.test(e.message),
    );
  }
});

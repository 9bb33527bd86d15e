/**
 * `smx verify` as a user runs it (deno run main.ts verify): on this Linux machine the pattern
 * sender encoded with libx264 for 2 s, the stream written with --out and read by ffprobe; exit 1 when nothing can encode (only h264_nvenc allowed,
 * and this machine has no NVIDIA driver); exit 2 for a bad flag.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./support/processes.ts";

async function verify(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "verify", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(60000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("smx verify --seconds 2: system, senders, NVENC, then the pattern encoded with libx264", async () => {
  const h264 = Deno.makeTempFileSync({ suffix: ".h264" });
  const r = await verify(["--seconds", "2", "--pattern", "--out", h264]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const section of ["== system", "== senders", "== NVENC", "== encode test (2 s)"]) {
    assert.ok(r.stdout.includes(section), `${section}:\n${r.stdout}`);
  }
  assert.match(r.stdout, /shim: smx-shim 1 from .*libsmx\.so/);
  assert.match(r.stdout, /Spout: Windows only/);
  assert.match(r.stdout, /h264_nvenc \(libavcodec\): (opens|does not open: .+)/);
  assert.match(r.stdout, /source: pattern sender 1280x720@60 \(1280x720\)/);
  // This machine has no NVIDIA driver: libx264, with the reason NVENC was passed over.
  assert.match(r.stdout, /encoder: (libx264 \(passed over: h264_nvenc: .+\)|h264_nvenc)/);
  const fps = Number(/= ([\d.]+) fps/.exec(r.stdout)?.[1]);
  assert.ok(fps > 10, `fps ${fps}:\n${r.stdout}`);
  const [p50, p95] = /encode ms: p50 ([\d.]+), p95 ([\d.]+)/.exec(r.stdout)!.slice(1).map(Number);
  assert.ok(p50 > 0 && p95 >= p50, r.stdout);
  assert.match(r.stdout, /\nOK\n/);
  // --out: the stream as encoded, readable by ffprobe.
  assert.match(r.stdout, /stream: .*\.h264 \(H\.264 Annex-B, \d+ access units\)/);
  const probe = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-show_entries",
      "stream=codec_name,width,height",
      "-of",
      "csv=p=0",
      h264,
    ],
  }).output();
  assert.equal(new TextDecoder().decode(probe.stdout).trim(), "h264,1280,720");
  Deno.removeSync(h264);
});

Deno.test("smx verify exits 1 when nothing can encode, 2 for a bad flag", async () => {
  let hasNvenc = false;
  try {
    hasNvenc = Deno.statSync("/proc/driver/nvidia/version").isFile;
  } catch { /* no NVIDIA driver: h264_nvenc cannot open */ }
  if (!hasNvenc) {
    const r = await verify(["--seconds", "1", "--pattern", "--encoders", "h264_nvenc"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL: nothing can encode: .*h264_nvenc/);
  }
  const bad = await verify(["--seconds", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--seconds 0: a number of seconds/);
});

// Compile-time: the Windows classes fit what smx verify calls on them (deno check fails otherwise).
type Fits = [
  (e: import("../ffi/win_encoder.ts").WinH264Encoder) => import("../server/verify.ts").TestEncoder,
  (e: import("../ffi/encoder.ts").H264Encoder) => import("../server/verify.ts").TestEncoder,
  (r: import("../ffi/spout.ts").SpoutReceiver) => import("../server/verify.ts").TestReader,
  (r: import("../ffi/ring.ts").FrameRingReader) => import("../server/verify.ts").TestReader,
];
export const fits: Fits = [(e) => e, (e) => e, (r) => r, (r) => r];

Deno.test("smx verify finds what it calls in the Windows modules (imported by name at run time)", async () => {
  // verify.ts imports these by computed specifiers and looks functions up by name, so that a
  // build without them still reports; a rename would silently turn into "not usable": not here.
  const spout = await import("../ffi/spout.ts");
  assert.equal(typeof spout.listSpoutSenders, "function");
  assert.equal(typeof spout.SpoutReceiver.open, "function");
  assert.equal(typeof spout.SpoutFlag.FRAME_COUNT, "number");
  assert.equal(typeof spout.spoutD3dSelftest, "function");
  assert.deepEqual(spout.spoutD3dSelftest(), { ok: false, message: "Spout is Windows only" });
  const win = await import("../ffi/win_encoder.ts");
  assert.equal(typeof win.winEncoderCaps, "function");
  assert.equal(typeof win.WinH264Encoder.open, "function");
  // Off Windows they say so instead of touching smx.dll's symbols.
  assert.deepEqual(spout.listSpoutSenders(), []);
  await assert.rejects(() => win.winEncoderCaps(), /Windows only/);
});

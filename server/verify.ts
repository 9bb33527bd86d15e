/**
 * `smx verify`: what to check first on a new machine (docs/windows.md explains the output).
 *
 *   1. system   OS, CPU, memory, smx and Deno versions, where the shim came from, the GPU adapters
 *               and NVIDIA driver the OS reports
 *   2. senders  Spout senders (Windows, through ffi/spout.ts when it is in this build) and
 *               frame-ring senders (Linux)
 *   3. NVENC    what the Windows encoder module reports (ffi/win_encoder.ts when present), or
 *               whether libavcodec's h264_nvenc opens (Linux)
 *   4. encode   N seconds (default 10) encoding the first sender — or, with no sender, the
 *               pattern sender (Linux) or a synthetic picture (elsewhere) — printing fps, the
 *               encode time per frame p50/p95 and which encoder was used
 *
 * Exit code 0 when an encoder encoded frames, 1 when nothing can encode, 2 on bad flags.
 * Optional modules are imported by computed specifiers and every symbol they might lack is
 * checked, so a build without them reports "… not built" instead of crashing.
 */
import { parseArgs } from "node:util";
import { SMX_VERSION } from "./hello.ts";

export interface VerifyOptions {
  seconds: number;
  /** Encode the test pattern (Linux) or a synthetic picture even when senders exist. */
  pattern?: boolean;
  /** Write the encode test's H.264 (Annex-B) here, for ffprobe / trace_headers. */
  outFile?: string;
  encoders?: string[];
  out?: (line: string) => void;
}

export interface EncodeResult {
  encoder: string;
  skipped: string;
  source: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** Whole encode call (convert + encode + copy out), ms. */
  p50: number;
  p95: number;
  /** The shim's own convert and encode times, p50, ms. */
  convertP50: number;
  encodeP50: number;
}

// deno-lint-ignore no-explicit-any
type AnyModule = Record<string, any>;

/** Imports an optional module (undefined when it is not in this build); the reason goes to why. */
async function optionalModule(path: string, why: (m: string) => void): Promise<AnyModule | null> {
  const spec = new URL(path, import.meta.url).href; // computed: a missing file is not an error
  try {
    return await import(spec);
  } catch (e) {
    why((e as Error).message.split("\n")[0]);
    return null;
  }
}

/** Calls the first of `names` that `mod` exports as a function; throws naming them when none. */
// deno-lint-ignore no-explicit-any
function callAny(mod: AnyModule, names: string[], ...args: unknown[]): any {
  for (const n of names) if (typeof mod[n] === "function") return mod[n](...args);
  throw new Error(`the module has none of ${names.join(", ")}`);
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runTool(cmd: string, args: string[], timeoutMs = 5000): Promise<string | null> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function gpuLines(): Promise<string[]> {
  const out: string[] = [];
  const smi = await runTool("nvidia-smi", [
    "--query-gpu=name,driver_version,memory.total,encoder.stats.sessionCount",
    "--format=csv,noheader",
  ]);
  if (smi) { for (const l of smi.split("\n")) out.push(`NVIDIA (nvidia-smi): ${l.trim()}`); }
  else out.push("nvidia-smi: not found or failed (no NVIDIA driver, or not on PATH)");
  if (Deno.build.os === "windows") {
    const ps = await runTool("powershell", [
      "-NoProfile",
      "-Command",
      'Get-CimInstance Win32_VideoController | ForEach-Object { "$($_.Name)`t$($_.DriverVersion)`t$($_.AdapterRAM)" }',
    ], 15000);
    if (ps) {
      for (const l of ps.split(/\r?\n/).filter(Boolean)) {
        const [name, driver, ram] = l.split("\t");
        out.push(
          `adapter: ${name} (Windows driver ${driver}${
            ram ? `, ${Math.round(Number(ram) / 2 ** 20)} MiB reported` : ""
          })`,
        );
      }
    } else out.push("adapters: PowerShell's Win32_VideoController query failed");
  } else {
    try {
      const v = Deno.readTextFileSync("/proc/driver/nvidia/version").split("\n")[0];
      out.push(`NVIDIA kernel module: ${v}`);
    } catch {
      out.push("NVIDIA kernel module: not loaded (/proc/driver/nvidia/version absent)");
    }
    try {
      const cards = [...Deno.readDirSync("/dev/dri")].map((e) => e.name).sort();
      out.push(`/dev/dri: ${cards.join(" ") || "empty"}`);
    } catch {
      out.push("/dev/dri: absent (no GPU device nodes)");
    }
  }
  return out;
}

/** What the encode test needs of an encoder: ffi/encoder.ts's H264Encoder and
 * ffi/win_encoder.ts's WinH264Encoder both fit. */
export interface TestEncoder {
  readonly name: string;
  readonly skipped: string;
  encodeRing(reader: TestReader, forceIdr?: boolean): Promise<EncodedFrameLike | null>;
  encodeRgba(
    pixels: Uint8Array,
    width: number,
    height: number,
    o?: { forceIdr?: boolean },
  ): Promise<EncodedFrameLike>;
  close(): void;
}
interface EncodedFrameLike {
  data: Uint8Array;
  convertMs: number;
  encodeMs: number;
}
/** A frame-ring reader (ffi/ring.ts) or a Spout receiver (ffi/spout.ts). */
export interface TestReader {
  readonly pointer: Deno.PointerObject;
  exclusive?<T>(fn: (pointer: Deno.PointerObject) => Promise<T>): Promise<T>;
  wait(afterFrame: bigint, timeoutMs: number): Promise<boolean>;
  info(): { frame: bigint; width: number; height: number };
  close(): void;
}
type OpenEncoder = (width: number, height: number) => Promise<TestEncoder>;

/** The encode test on frames from a reader (frame-ring, pattern or Spout sender). */
async function encodeReader(
  reader: TestReader,
  source: string,
  open: OpenEncoder,
  o: VerifyOptions,
  sink: (au: Uint8Array) => void,
): Promise<EncodeResult> {
  try {
    let after = 0n;
    // The first frame gives the size.
    const t0 = performance.now();
    while (!(await reader.wait(after, 200))) {
      if (performance.now() - t0 > 5000) throw new Error(`${source}: no frame within 5 s`);
    }
    const { width, height } = reader.info();
    const enc = await open(Math.max(16, width & ~1), Math.max(16, height & ~1));
    try {
      const total: number[] = [];
      const convert: number[] = [];
      const encode: number[] = [];
      const start = performance.now();
      while (performance.now() - start < o.seconds * 1000) {
        if (!(await reader.wait(after, 200))) continue;
        after = reader.info().frame;
        const c0 = performance.now();
        const f = await enc.encodeRing(reader, total.length === 0);
        if (!f) continue;
        total.push(performance.now() - c0);
        sink(f.data);
        convert.push(f.convertMs);
        encode.push(f.encodeMs);
      }
      const secs = (performance.now() - start) / 1000;
      return summarize(enc.name, enc.skipped, source, width, height, total, convert, encode, secs);
    } finally {
      enc.close();
    }
  } finally {
    reader.close();
  }
}

/** The encode test on a synthetic moving picture (no sender to read), through encodeRgba. */
async function encodeSynthetic(
  open: OpenEncoder,
  o: VerifyOptions,
  sink: (au: Uint8Array) => void,
): Promise<EncodeResult> {
  const [width, height] = [1280, 720];
  const enc = await open(width, height);
  try {
    const pixels = new Uint8Array(width * height * 4);
    const total: number[] = [];
    const convert: number[] = [];
    const encode: number[] = [];
    const start = performance.now();
    for (let i = 0; performance.now() - start < o.seconds * 1000; i++) {
      for (let y = 0; y < height; y += 8) {
        pixels.fill((y + i * 4) & 0xff, y * width * 4, (y + 1) * width * 4);
      }
      const c0 = performance.now();
      const f = await enc.encodeRgba(pixels, width, height, { forceIdr: i === 0 });
      total.push(performance.now() - c0);
      sink(f.data);
      convert.push(f.convertMs);
      encode.push(f.encodeMs);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / 60 - (performance.now() - c0))));
    }
    const secs = (performance.now() - start) / 1000;
    return summarize(
      enc.name,
      enc.skipped,
      "synthetic 1280x720 picture at 60 fps",
      width,
      height,
      total,
      convert,
      encode,
      secs,
    );
  } finally {
    enc.close();
  }
}

function summarize(
  encoder: string,
  skipped: string,
  source: string,
  width: number,
  height: number,
  total: number[],
  convert: number[],
  encode: number[],
  secs: number,
): EncodeResult {
  const s = (a: number[]) => [...a].sort((x, y) => x - y);
  const t = s(total);
  return {
    encoder,
    skipped,
    source,
    width,
    height,
    frames: total.length,
    fps: total.length / secs,
    p50: percentile(t, 0.5),
    p95: percentile(t, 0.95),
    convertP50: percentile(s(convert), 0.5),
    encodeP50: percentile(s(encode), 0.5),
  };
}

/** A sender's flags by name ("FRAME_COUNT|ACTIVE"), from the module's SpoutFlag table. */
function spoutFlags(mod: AnyModule, flags: number): string {
  const table = (mod.SpoutFlag ?? {}) as Record<string, number>;
  const names = Object.entries(table).filter(([, bit]) => flags & bit).map(([n]) => n);
  return names.join("|") || String(flags);
}

/** Runs every check, printing as it goes; returns the exit code. */
export async function verify(o: VerifyOptions): Promise<number> {
  const out = o.out ?? ((l: string) => console.log(l));
  const windows = Deno.build.os === "windows";

  out(`== system`);
  out(`smx ${SMX_VERSION}, Deno ${Deno.version.deno}, ${Deno.build.os} ${Deno.build.arch}`);
  out(`os release: ${Deno.osRelease()}`);
  const mem = Deno.systemMemoryInfo();
  out(
    `cpu: ${navigator.hardwareConcurrency} logical cores; memory ${
      Math.round(mem.total / 2 ** 30)
    } GiB (${Math.round(mem.available / 2 ** 30)} GiB available)`,
  );
  // deno-lint-ignore no-explicit-any
  const compiled = (Deno.build as any).standalone === true;
  out(`binary: ${compiled ? `compiled (${Deno.execPath()})` : "source checkout (deno run)"}`);
  let shimOk = false;
  try {
    const { native, prepareEmbeddedShim, shimPath } = await import("../ffi/lib.ts");
    const extracted = await prepareEmbeddedShim();
    const version = Deno.UnsafePointerView.getCString(native().smx_version()!);
    out(
      `shim: ${version} from ${shimPath()}${
        extracted
          ? ` (${extracted.action}${
            extracted.why ? ` — the cached copy had ${extracted.why}` : ""
          }, ` +
            `sha256 ${extracted.sha256.slice(0, 16)}…)`
          : ""
      }`,
    );
    shimOk = true;
  } catch (e) {
    out(`shim: NOT LOADED: ${(e as Error).message}`);
  }
  for (const l of await gpuLines()) out(l);

  out(`\n== senders`);
  let spoutFirst: string | undefined;
  const spout = await optionalModule(
    "../ffi/spout.ts",
    (m) => out(windows ? `Spout module not built (${m})` : "Spout: Windows only"),
  );
  if (spout && !windows) out("Spout: Windows only");
  else if (spout && shimOk) {
    // The D3D11 half of Spout on this machine, without a sender: shared texture, copy, readback.
    for (const keyed of [false, true]) {
      try {
        const t = callAny(spout, ["spoutD3dSelftest"], keyed) as { ok: boolean; message: string };
        out(
          `D3D11 self-test${keyed ? " (keyed mutex)" : ""}: ${t.ok ? "ok" : "FAILED"}${
            t.message ? `: ${t.message}` : ""
          }`,
        );
      } catch (e) {
        out(`D3D11 self-test: not in this build (${(e as Error).message})`);
        break;
      }
    }
    try {
      const senders = callAny(spout, ["listSpoutSenders"]) as AnyModule[];
      out(`Spout senders: ${senders.length}`);
      for (const s of senders) {
        out(
          `  ${s.name}\t${s.width}x${s.height}\tdxgi format ${s.dxgiFormat}\tflags ${
            spoutFlags(spout, s.flags)
          }\tsender frame ${s.senderFrame}${s.description ? `\t${s.description}` : ""}`,
        );
      }
      spoutFirst = senders[0]?.name;
    } catch (e) {
      out(`Spout module not usable (${(e as Error).message})`);
    }
  } else if (spout) out("Spout senders: not listed (the shim did not load, above)");
  let ringFirst: string | undefined;
  if (!windows && shimOk) {
    try {
      const { listSenders } = await import("../ffi/ring.ts");
      const senders = listSenders();
      out(`frame-ring senders: ${senders.length}`);
      for (const s of senders) {
        out(`  ${s.name}\t${s.width}x${s.height}\t${s.format}\tpid ${s.pid}`);
      }
      ringFirst = senders[0]?.name;
    } catch (e) {
      out(`frame-ring senders: cannot list: ${(e as Error).message}`);
    }
  }

  out(`\n== NVENC`);
  let openEncoder: OpenEncoder | undefined;
  if (windows) {
    const win = await optionalModule(
      "../ffi/win_encoder.ts",
      (m) => out(`Windows encoder module not built (${m})`),
    );
    if (win && shimOk) {
      try {
        const caps = await callAny(win, ["winEncoderCaps"]) as AnyModule;
        const nvenc = caps.nvenc ?? {};
        if (nvenc.error) out(`NVENC: not available: ${nvenc.error}`);
        else {
          out("NVENC: available");
          for (const [k, v] of Object.entries(nvenc)) out(`  ${k}: ${v}`);
        }
        out(`Media Foundation: ${typeof caps.mf === "string" ? caps.mf : caps.mf?.error}`);
      } catch (e) {
        out(`Windows encoder module not usable (${(e as Error).message})`);
      }
      if (typeof win.WinH264Encoder?.open === "function") {
        openEncoder = (width, height) =>
          win.WinH264Encoder.open({ width, height, fps: 60, preference: o.encoders });
      }
    }
  } else if (shimOk) {
    const { H264Encoder } = await import("../ffi/encoder.ts");
    try {
      const enc = await H264Encoder.open({
        width: 1280,
        height: 720,
        fps: 60,
        preference: ["h264_nvenc"],
      });
      out(`h264_nvenc (libavcodec): opens at 1280x720@60 (${enc.codec})`);
      enc.close();
    } catch (e) {
      out(`h264_nvenc (libavcodec): does not open: ${(e as Error).message}`);
    }
    openEncoder = (width, height) =>
      H264Encoder.open({ width, height, fps: 60, preference: o.encoders });
  }

  out(`\n== encode test (${o.seconds} s)`);
  if (!shimOk || !openEncoder) {
    out(`FAIL: nothing can encode: ${shimOk ? "no encoder module in this build" : "no shim"}`);
    return 1;
  }
  let r: EncodeResult;
  const file = o.outFile
    ? Deno.openSync(o.outFile, { write: true, create: true, truncate: true })
    : undefined;
  const sink = (au: Uint8Array) => file?.writeSync(au);
  try {
    if (o.pattern) ringFirst = spoutFirst = undefined;
    if (spoutFirst && spout) {
      const reader = spout.SpoutReceiver.open(spoutFirst) as TestReader;
      r = await encodeReader(reader, `Spout sender "${spoutFirst}"`, openEncoder, o, sink);
    } else if (ringFirst) {
      const { FrameRingReader } = await import("../ffi/ring.ts");
      const reader = FrameRingReader.open(ringFirst);
      r = await encodeReader(reader, `frame-ring sender "${ringFirst}"`, openEncoder, o, sink);
    } else if (!windows) {
      const { PatternSender } = await import("../ffi/pattern.ts");
      const { FrameRingReader } = await import("../ffi/ring.ts");
      const ring = `smx-verify-${Deno.pid}`;
      const pattern = PatternSender.start(ring, 1280, 720, 60);
      try {
        const reader = FrameRingReader.open(ring);
        r = await encodeReader(reader, "pattern sender 1280x720@60", openEncoder, o, sink);
      } finally {
        pattern.stop();
      }
    } else {
      r = await encodeSynthetic(openEncoder, o, sink);
    }
  } catch (e) {
    out(`FAIL: nothing can encode: ${(e as Error).message}`);
    return 1;
  } finally {
    file?.close();
  }
  out(`source: ${r.source} (${r.width}x${r.height})`);
  out(`encoder: ${r.encoder}${r.skipped ? ` (passed over: ${r.skipped})` : ""}`);
  out(`frames: ${r.frames} in ${o.seconds} s = ${r.fps.toFixed(1)} fps`);
  out(
    `encode ms: p50 ${r.p50.toFixed(2)}, p95 ${r.p95.toFixed(2)} (in the shim: convert p50 ${
      r.convertP50.toFixed(2)
    }, encode p50 ${r.encodeP50.toFixed(2)})`,
  );
  if (o.outFile) out(`stream: ${o.outFile} (H.264 Annex-B, ${r.frames} access units)`);
  if (!r.frames) {
    out("FAIL: the encoder opened but encoded no frame");
    return 1;
  }
  out("OK");
  return 0;
}

export const VERIFY_HELP =
  `usage: smx verify [--seconds N] [--encoders LIST] [--pattern] [--out FILE]

Prints what to check first on a new machine: system and GPU adapters, Spout or frame-ring
senders, NVENC capabilities, then encodes the first sender (or a test pattern) for N seconds
(default 10) and prints fps, encode ms p50/p95 and the encoder used. Exit code 1 when nothing
can encode. --pattern encodes the test pattern even when senders exist; --out FILE writes the
encoded H.264 (Annex-B) there, e.g. for ffprobe. docs/windows.md explains the output.
`;

export async function verifyCli(args: string[]): Promise<number> {
  let f;
  try {
    ({ values: f } = parseArgs({
      args,
      options: {
        seconds: { type: "string", default: "10" },
        encoders: { type: "string", default: Deno.env.get("SMX_ENCODERS") },
        pattern: { type: "boolean", default: false },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`smx verify: ${(e as Error).message}\n${VERIFY_HELP}`);
    return 2;
  }
  if (f.help) {
    console.log(VERIFY_HELP);
    return 0;
  }
  const seconds = Number(f.seconds);
  if (!(seconds > 0 && seconds <= 600)) {
    console.error(`smx verify: --seconds ${f.seconds}: a number of seconds, above 0, at most 600`);
    return 2;
  }
  const encoders = f.encoders?.split(",").map((s) => s.trim()).filter(Boolean);
  return await verify({ seconds, encoders, pattern: f.pattern, outFile: f.out });
}

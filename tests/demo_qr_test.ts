/**
 * The pairing QR in the engine's render window: the pattern sender's overlay (modules where they
 * should be, stamp still readable, removed again, bad arguments refused), and the whole path —
 * smx's PairingChannels writing through a real mirror into a demo engine with outputs, whose main
 * ring then shows a QR that zbarimg decodes back to the URL; hidden again within a few frames of
 * Show = false; back within a second of an engine restart.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import qrcode from "qrcode-generator";
import { ClosedError, InvalidArgumentError } from "../ffi/errors.ts";
import { FrameRingReader } from "../ffi/ring.ts";
import { OVERLAY_QUIET, PatternSender } from "../ffi/pattern.ts";
import { readStamp } from "../protocol/stamp.ts";
import { qrPlacement, QUIET_MODULES } from "../demo/pairing_overlay.ts";
import { DEFAULT_OUTPUTS, ringName } from "../demo/outputs.ts";
import { discoverEngines, selectEngine } from "../server/engine/discovery.ts";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import {
  PAIRING_CHANNELS,
  PairingChannels,
  parseQrChannel,
  type QrMatrix,
} from "../server/engine/pairing_channels.ts";
import { type DemoProc, startDemoEngine, waitFor } from "./support/demo_engine.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniq = () => crypto.randomUUID().slice(0, 8);

/** Test stand-in for protocol/qr.ts `qrMatrix(text)` (same shape), on the pinned generator. */
function qrMatrix(text: string): QrMatrix {
  const q = qrcode(0, "M");
  q.addData(text);
  q.make();
  const size = q.getModuleCount();
  let modules = "";
  for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) modules += q.isDark(r, c) ? 1 : 0;
  return { size, modules };
}

/** The longest URL pairing uses: LAN address, highest port, 43-char base64url secret. */
const URL_ = "http://192.168.100.200:65535/pair#" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE";

interface Frame {
  pixels: Uint8Array;
  width: number;
  height: number;
  frame: bigint;
}

async function freshFrame(reader: FrameRingReader): Promise<Frame> {
  const after = reader.info().frame + 1n;
  assert.equal(await reader.wait(after, 3000), true, "the sender keeps sending");
  const { pixels, info } = await reader.copyLatest();
  return { pixels, width: info.width, height: info.height, frame: info.frame };
}

const luma = (f: Frame, x: number, y: number) => {
  const o = (y * f.width + x) * 4; // BGRA
  return 0.114 * f.pixels[o] + 0.587 * f.pixels[o + 1] + 0.299 * f.pixels[o + 2];
};

/**
 * Reads the module grid back from the picture (the centre pixel of each module, quiet zone
 * included) and counts modules that differ from the matrix; 0 = the QR is there, exactly.
 */
function gridMismatches(
  f: Frame,
  qr: { size: number; modules: Uint8Array },
  at: { x: number; y: number; scale: number },
): number {
  const n = qr.size + 2 * OVERLAY_QUIET;
  let bad = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const inside = r >= OVERLAY_QUIET && r < OVERLAY_QUIET + qr.size && c >= OVERLAY_QUIET &&
        c < OVERLAY_QUIET + qr.size;
      const dark = inside &&
        qr.modules[(r - OVERLAY_QUIET) * qr.size + (c - OVERLAY_QUIET)] === 1;
      const x = at.x + c * at.scale + (at.scale >> 1), y = at.y + r * at.scale + (at.scale >> 1);
      if (x >= f.width || y >= f.height) continue; // clipped
      if ((luma(f, x, y) < 128) !== dark) bad++;
    }
  }
  return bad;
}

/** Pixels of the overlay's square (clipped to the frame) that are not exactly its black or white. */
function pixelMismatches(
  f: Frame,
  qr: { size: number; modules: Uint8Array },
  at: { x: number; y: number; scale: number },
): number {
  const side = (qr.size + 2 * OVERLAY_QUIET) * at.scale;
  let bad = 0;
  for (let y = at.y; y < Math.min(at.y + side, f.height); y++) {
    const r = Math.floor((y - at.y) / at.scale) - OVERLAY_QUIET;
    for (let x = at.x; x < Math.min(at.x + side, f.width); x++) {
      const c = Math.floor((x - at.x) / at.scale) - OVERLAY_QUIET;
      const dark = r >= 0 && r < qr.size && c >= 0 && c < qr.size &&
        qr.modules[r * qr.size + c] === 1;
      const o = (y * f.width + x) * 4, v = dark ? 0 : 255;
      if (f.pixels[o] !== v || f.pixels[o + 1] !== v || f.pixels[o + 2] !== v) bad++;
    }
  }
  return bad;
}

/** zbarimg's reading of the frame (written as a PGM), or "" when it finds no code. */
async function zbar(f: Frame): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "smx-qr-" });
  try {
    const gray = new Uint8Array(f.width * f.height);
    for (let i = 0; i < gray.length; i++) {
      gray[i] = Math.round(luma(f, i % f.width, (i / f.width) | 0));
    }
    const header = new TextEncoder().encode(`P5\n${f.width} ${f.height}\n255\n`);
    const file = join(dir, "frame.pgm");
    await Deno.writeFile(file, new Uint8Array([...header, ...gray]));
    let out;
    try {
      out = await new Deno.Command("zbarimg", {
        args: ["--raw", "-q", "-Sdisable", "-Sqrcode.enable", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(
          "zbarimg is not installed, so the QR cannot be decoded from a frame. " +
            "Install it: bash scripts/setup.sh test   (or apt-get install -y zbar-tools)",
        );
      }
      throw e;
    }
    // Exit 4: no symbol found.
    return out.code === 0 ? new TextDecoder().decode(out.stdout).trim() : "";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pattern overlay: modules where asked, stamp intact, removed with null, clipped, bad arguments refused", async () => {
  const name = `test-qr-overlay-${Deno.pid}-${uniq()}`;
  using sender = PatternSender.start(name, 1280, 720, 60);
  using reader = FrameRingReader.open(name);
  const qr = parseQrChannel(qrMatrix(URL_).modules)!;
  assert.equal(qr.size, 37, "version 5 at level M");
  const place = qrPlacement(1280, 720, qr.size)!;
  assert.deepEqual(place, { x: 996, y: 436, scale: 6, side: 270 });
  assert.equal(QUIET_MODULES, OVERLAY_QUIET);

  const before = await freshFrame(reader);
  assert.ok(gridMismatches(before, qr, place) > 100, "no QR before the overlay is set");
  sender.setOverlay({ ...qr, ...place });
  let f = await freshFrame(reader);
  if (gridMismatches(f, qr, place) !== 0) f = await freshFrame(reader); // one frame in progress
  assert.equal(gridMismatches(f, qr, place), 0, "every module (and the quiet zone) in place");
  assert.deepEqual(
    readStamp(f.pixels, f.width, f.height, { channels: "bgra" })?.frame,
    Number(f.frame),
    "stamp readable with the overlay on",
  );
  assert.equal(await zbar(f), URL_, "zbarimg reads the URL off the frame");

  assert.equal(pixelMismatches(f, qr, place), 0, "every pixel of it");

  // Every pixel stays right while fast bars and the cursor cross it (slots hold older pictures;
  // only what was restored or drawn over is copied again).
  // 8 bars: under half the frame, so slots are restored box by box, not repainted whole
  sender.setParams({ shapeKind: "bars", shapeCount: 8, speed: 3, cursorX: 0.85, cursorY: 0.8 });
  for (let i = 0; i < 30; i++) {
    sender.setParams({ cursorX: 0.75 + i / 200, cursorButtons: i % 2 });
    assert.equal(pixelMismatches(await freshFrame(reader), qr, place), 0, `frame ${i}`);
  }

  sender.setOverlay(null);
  await freshFrame(reader);
  assert.ok(gridMismatches(await freshFrame(reader), qr, place) > 100, "removed");

  // Partly outside the frame: clipped, not a crash; the visible part is right.
  const edge = { x: 1280 - 100, y: 720 - 90, scale: 4 };
  sender.setOverlay({ ...qr, ...edge });
  await freshFrame(reader);
  assert.equal(pixelMismatches(await freshFrame(reader), qr, edge), 0, "clipped overlay");
  sender.setOverlay({ ...qr, x: 5000, y: 5000, scale: 4 }); // entirely outside: nothing drawn
  await freshFrame(reader);

  assert.throws(() => sender.setOverlay({ ...qr, size: 36, ...place }), InvalidArgumentError);
  assert.throws(() => sender.setOverlay({ ...qr, ...place, scale: 0 }), {
    message: /scale 0 is out of range/,
  });
  assert.throws(() => sender.setOverlay({ ...qr, ...place, scale: 65 }), InvalidArgumentError);
  const huge = new Uint8Array(256 * 256);
  assert.throws(
    () => sender.setOverlay({ modules: huge, size: 256, x: 0, y: 0, scale: 1 }),
    { message: /size 256 is out of range/ },
  );
  assert.throws(
    () =>
      sender.setOverlay({ modules: huge.subarray(0, 250 * 250), size: 250, x: 0, y: 0, scale: 40 }),
    { message: /at most 8192/ },
  );
  sender.stop();
  assert.throws(() => sender.setOverlay(null), ClosedError);
});

Deno.test("pattern overlay: 1080p60 with the QR on stays cheap (thread CPU time)", async () => {
  const name = `test-qr-cost-${Deno.pid}-${uniq()}`;
  using sender = PatternSender.start(name, 1920, 1080, 60);
  const qr = parseQrChannel(qrMatrix(URL_).modules)!;
  const place = qrPlacement(1920, 1080, qr.size)!;
  assert.equal(place.scale, 9, "1080p: 9 px per module");
  const measure = async () => {
    await sleep(500);
    const a = sender.stats();
    await sleep(2000);
    const b = sender.stats();
    const frames = b.framesSent - a.framesSent;
    return {
      frames,
      us: (b.renderUsAvg * b.framesSent - a.renderUsAvg * a.framesSent) / frames,
    };
  };
  const off = await measure();
  sender.setOverlay({ ...qr, ...place });
  const on = await measure();
  console.log(
    `1080p60: ${off.us.toFixed(0)} µs/frame without the QR, ${on.us.toFixed(0)} µs/frame with ` +
      `it (${place.side} px square; ${(on.us * 60 / 1e4).toFixed(1)}% of one core)`,
  );
  assert.ok(on.frames >= 80, `kept close to 60 fps (${on.frames} frames in 2 s)`);
  assert.ok(on.us < 4000, `render cost ${on.us} µs/frame with the overlay`);
});

/** Waits until the main ring of `engine` shows `qr` (grid exact); returns that frame. */
async function waitForQr(
  engine: DemoProc,
  qr: { size: number; modules: Uint8Array },
  timeoutMs: number,
): Promise<Frame> {
  const place = qrPlacement(1280, 720, qr.size)!;
  const end = Date.now() + timeoutMs;
  let reader: FrameRingReader | null = null;
  try {
    while (Date.now() < end) {
      try {
        reader ??= FrameRingReader.open(ringName(engine.name, engine.pid, "main"));
      } catch {
        await sleep(10);
        continue;
      }
      const f = await freshFrame(reader);
      if (gridMismatches(f, qr, place) === 0) return f;
    }
  } finally {
    reader?.close();
  }
  throw new Error(`no QR in ${engine.name}'s main output within ${timeoutMs} ms`);
}

Deno.test("demo engine: smx's pairing QR drawn in the main output, hidden by Show = false, back after an engine restart", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-qr-" });
  const name = `qr-${uniq()}`;
  let engine = await startDemoEngine({ name, portDir: dir, outputs: true, debug: false });
  const mirror = new ParamMirror({
    engine: async () => {
      const r = await discoverEngines({ portDir: dir, probePorts: false });
      return selectEngine(r.engines, name) ?? null;
    },
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  }).start();
  const pairing = new PairingChannels(mirror);
  try {
    await mirror.whenConnected(10000);
    assert.equal(mirror.meta(PAIRING_CHANNELS.qr)?.hidden, true, "declared hidden by the demo");
    const matrix = qrMatrix(URL_);
    const qr = parseQrChannel(matrix.modules)!;
    pairing.publish({ url: URL_, qr: matrix, code: "482913", show: true });
    const shown = await waitForQr(engine, qr, 5000);
    assert.equal(
      readStamp(shown.pixels, shown.width, shown.height, { channels: "bgra" })?.frame,
      Number(shown.frame),
      "the stamp reads with the QR on",
    );
    assert.equal(await zbar(shown), URL_, "zbarimg reads the pairing URL off the main output");
    assert.equal(mirror.get(PAIRING_CHANNELS.code), "482913");

    // A LAN client connects: Show = false; gone within a few frames of the engine's ack.
    using reader = FrameRingReader.open(ringName(engine.name, engine.pid, "main"));
    pairing.publish({ url: URL_, qr: matrix, code: "482913", show: false });
    await waitFor(() => mirror.get(PAIRING_CHANNELS.show) === false, "Show = false acked");
    const acked = reader.info().frame;
    const place = qrPlacement(1280, 720, qr.size)!;
    let f = await freshFrame(reader);
    while (gridMismatches(f, qr, place) === 0 && f.frame < acked + 10n) {
      f = await freshFrame(reader);
    }
    console.log(`QR gone ${f.frame - acked} frame(s) after Show = false was acked`);
    assert.ok(gridMismatches(f, qr, place) > 100, "hidden");
    assert.ok(f.frame - acked <= 3n, `hidden within 3 frames (took ${f.frame - acked})`);
    reader.close();

    // Shown again, then the engine dies and comes back: the republished QR is back within 1 s.
    pairing.publish({ url: URL_, qr: matrix, code: "482913", show: true });
    await waitForQr(engine, qr, 3000);
    await engine.kill("SIGKILL");
    // A killed writer leaves its rings behind (a later writer of the same name would remove them).
    for (const o of DEFAULT_OUTPUTS) {
      Deno.removeSync(`/dev/shm/smx-ring-${ringName(engine.name, engine.pid, o.id)}`);
    }
    engine = await startDemoEngine({ name, portDir: dir, outputs: true, debug: false });
    const t0 = performance.now();
    await waitForQr(engine, qr, 5000);
    const ms = performance.now() - t0;
    console.log(`QR back ${ms.toFixed(0)} ms after the restarted engine was ready`);
    assert.ok(ms < 1000, `back within a second (took ${ms.toFixed(0)} ms)`);
  } finally {
    await pairing.close({ hide: false });
    await mirror.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

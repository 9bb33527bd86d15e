/**
 * Pattern sender: rate, stamps, parameters that visibly change the picture, resize, the render
 * cost at 1080p60, and error handling.
 */
import assert from "node:assert/strict";
import { native } from "../ffi/lib.ts";
import { ClosedError, InvalidArgumentError } from "../ffi/errors.ts";
import { FrameRingReader, type RingInfo } from "../ffi/ring.ts";
import { DEFAULT_PATTERN_PARAMS, type PatternParams, PatternSender } from "../ffi/pattern.ts";
import { readStamp, stampBandHeight } from "../protocol/stamp.ts";

let counter = 0;
const uniqueName = (tag: string) => `test-pattern-${tag}-${Deno.pid}-${counter++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A frame rendered entirely after the call (the one in progress may predate a change). */
async function freshFrame(
  reader: FrameRingReader,
): Promise<{ pixels: Uint8Array; info: RingInfo }> {
  const after = reader.info().frame + 1n;
  assert.equal(await reader.wait(after, 3000), true, "the sender keeps sending");
  return await reader.copyLatest();
}

/** Pixels that differ between two frames of the same size, ignoring the stamp band. */
function differingPixels(a: Uint8Array, b: Uint8Array, width: number): number {
  assert.equal(a.length, b.length);
  let n = 0;
  for (let o = stampBandHeight(width) * width * 4; o < a.length; o += 4) {
    if (a[o] !== b[o] || a[o + 1] !== b[o + 1] || a[o + 2] !== b[o + 2]) n++;
  }
  return n;
}

Deno.test("frames come at the requested rate and carry stamps matching the ring", async () => {
  const name = uniqueName("rate");
  using sender = PatternSender.start(name, 320, 240, 30);
  using reader = FrameRingReader.open(name);
  assert.equal(await reader.wait(0n, 3000), true);

  const rateOver = async (ms: number) => {
    const a = reader.info();
    await sleep(ms);
    const b = reader.info();
    return Number(b.frame - a.frame) / (Number(b.captureUs - a.captureUs) / 1e6);
  };
  const at30 = await rateOver(1200);
  sender.setRate(10);
  await sleep(150);
  const at10 = await rateOver(1200);
  console.log(`measured ${at30.toFixed(1)} fps at 30, ${at10.toFixed(1)} fps at 10`);
  assert.ok(at30 > 30 * 0.6 && at30 < 30 * 1.1, `~30 fps, got ${at30}`);
  assert.ok(at10 > 10 * 0.6 && at10 < 10 * 1.1, `~10 fps, got ${at10}`);

  sender.setRate(60);
  for (let i = 0; i < 5; i++) {
    const { pixels, info } = await freshFrame(reader);
    const stamp = readStamp(pixels, info.width, info.height, { channels: "bgra" });
    assert.deepEqual(stamp, { frame: Number(info.frame), captureUs: Number(info.captureUs) });
  }
  const stats = sender.stats();
  assert.ok(stats.framesSent >= Number(reader.info().frame), "every published frame is counted");
});

Deno.test("every parameter visibly changes the picture; paused and frozen pictures hold", async () => {
  const name = uniqueName("params");
  using sender = PatternSender.start(name, 320, 180, 60, "rgba");
  using reader = FrameRingReader.open(name);
  const base: Partial<PatternParams> = { ...DEFAULT_PATTERN_PARAMS, speed: 0 };
  sender.setParams(base);
  const reference = (await freshFrame(reader)).pixels;
  assert.equal(differingPixels(reference, (await freshFrame(reader)).pixels, 320), 0, "frozen");

  const changes: Partial<PatternParams>[] = [
    { brightness: 0.9 },
    { brightness: 0 },
    { hue: 0.1 },
    { saturation: 0 },
    { shapeCount: 20 },
    { shapeCount: 0 },
    { shapeKind: "squares" },
    { shapeKind: "bars" },
    { shapeSize: 0.4 },
    { cursorX: 0.1, cursorY: 0.9 },
    { cursorVisible: false },
    { cursorButtons: 1 },
  ];
  for (const change of changes) {
    sender.setParams({ ...base, ...change });
    const changed = (await freshFrame(reader)).pixels;
    const n = differingPixels(reference, changed, 320);
    assert.ok(n > 50, `${JSON.stringify(change)} changed ${n} pixels`);
  }
  sender.setParams(base);
  assert.equal(differingPixels(reference, (await freshFrame(reader)).pixels, 320), 0, "restored");

  // Motion: consecutive frames differ; paused: the picture holds while frame numbers advance.
  sender.setParams({ speed: 1 });
  const a = await freshFrame(reader), b = await freshFrame(reader);
  assert.ok(differingPixels(a.pixels, b.pixels, 320) > 50, "shapes move at speed 1");
  sender.setParams({ paused: true });
  const c = await freshFrame(reader), d = await freshFrame(reader);
  assert.ok(d.info.frame > c.info.frame, "paused still sends frames");
  assert.equal(differingPixels(c.pixels, d.pixels, 320), 0, "paused holds the picture");
  assert.equal(sender.params.paused, true, "setParams merges");
  assert.equal(sender.params.speed, 1);
});

Deno.test("resize is followed by readers, in place and into a larger ring", async () => {
  const name = uniqueName("resize");
  using sender = PatternSender.start(name, 320, 180, 60);
  using reader = FrameRingReader.open(name);
  for (const [w, h] of [[160, 90], [1280, 720], [333, 211]]) {
    sender.resize(w, h);
    let frame = await freshFrame(reader);
    if (frame.info.width !== w) frame = await freshFrame(reader);
    assert.deepEqual([frame.info.width, frame.info.height], [w, h]);
    const stamp = readStamp(frame.pixels, w, h, { channels: "bgra" });
    assert.equal(stamp?.frame, Number(frame.info.frame), `stamped at ${w}x${h}`);
  }
});

Deno.test("1080p60 costs little CPU (render + stamp + commit, thread CPU time)", async () => {
  const name = uniqueName("cost");
  using sender = PatternSender.start(name, 1920, 1080, 60);
  await sleep(700); // first frames build the background and touch fresh shared memory
  const warm = sender.stats();
  await sleep(2000);
  const s = sender.stats();
  const frames = s.framesSent - warm.framesSent;
  const steadyUs = (s.renderUsAvg * s.framesSent - warm.renderUsAvg * warm.framesSent) / frames;
  const cpuPercent = (steadyUs * frames) / 2e6 * 100;
  console.log(
    `1080p60: ${frames} frames in 2 s, ${steadyUs.toFixed(0)} µs/frame steady ` +
      `(${cpuPercent.toFixed(1)}% of one core), overall avg ${s.renderUsAvg} µs, ` +
      `max ${s.renderUsMax} µs, late ${s.framesLate}/${s.framesSent}`,
  );
  assert.ok(frames >= 80, `kept close to 60 fps (${frames} frames in 2 s)`);
  assert.ok(steadyUs < 4000, `render cost ${steadyUs} µs/frame`);
});

Deno.test("bad arguments and stopped senders give typed errors", () => {
  const name = uniqueName("bad");
  assert.throws(() => PatternSender.start(name, 320, 180, 0), {
    message: /rate 0 fps is out of range/,
  });
  assert.throws(() => PatternSender.start(name, 320, 180, 241), InvalidArgumentError);
  assert.throws(() => PatternSender.start(name, 0, 180, 30), { message: /0x180 is out of range/ });
  assert.throws(() => PatternSender.start("no/slash", 320, 180, 30), InvalidArgumentError);

  const sender = PatternSender.start(name, 64, 64, 30);
  assert.throws(() => PatternSender.start(name, 64, 64, 30), { message: /already in use/ });
  assert.throws(() => sender.setParams({ brightness: 2 }), {
    message: /brightness 2 is out of range/,
  });
  assert.throws(() => sender.setParams({ hue: NaN }), { message: /hue is not a finite number/ });
  assert.throws(() => sender.setParams({ shapeCount: 65 }), { message: /shape_count 65/ });
  assert.throws(() => sender.setParams({ shapeCount: -1 }), InvalidArgumentError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => sender.setParams({ shapeKind: "triangles" as any }), {
    message: /triangles/,
  });
  assert.throws(() => sender.setRate(1000), InvalidArgumentError);
  assert.throws(() => sender.resize(9000, 10), InvalidArgumentError);
  assert.equal(sender.params.brightness, DEFAULT_PATTERN_PARAMS.brightness, "refused = unchanged");
  sender.setParams({ cursorX: 1.5 }); // a pointer just outside is clamped, not refused

  sender.stop();
  sender.stop();
  assert.throws(() => sender.setParams({ hue: 0.2 }), ClosedError);
  assert.throws(() => sender.stats(), ClosedError);
  assert.throws(() => FrameRingReader.open(name), /no sender named/, "stop removed the ring");
  native().smx_pattern_stop(null); // refused, not a crash
});

/**
 * Venues (on-air routing): the message and title checks, VenueRouter's bookkeeping, and a switch
 * against the real native shim: two pattern senders, a venue encode session at a fixed 640x360,
 * a switch right after an IDR (inside MIN_IDR_INTERVAL_MS): nothing from the new output goes out
 * before its IDR, nothing from the old one after, the size never changes, and ffmpeg decodes the
 * whole delivered stream without one error.
 */
import assert from "node:assert/strict";
import { PatternSender } from "../../../ffi/pattern.ts";
import type { EncodedFrame } from "../../../ffi/encoder.ts";
import { EncodeSessionManager, type SourceInfo } from "../../../encoder/manager.ts";
import { parseOnAirMessage, venueSource } from "../../../protocol/venues.ts";
import { VenueRouter } from "./venues.ts";

Deno.test("onair messages: shape, ids and titles (controls refused, RTL and emoji kept)", () => {
  const ok = parseOnAirMessage({ v: 1, type: "onair", venue: "stage", output: "main" });
  assert.ok(ok.ok);
  const rtl = parseOnAirMessage({ v: 1, type: "onair", venue: "a", title: " مسرح 🎉 " });
  assert.ok(rtl.ok && rtl.msg.title === "مسرح 🎉");
  for (
    const bad of [
      { v: 2, type: "onair", venue: "a" },
      { v: 1, type: "onair", venue: "A@b" },
      { v: 1, type: "onair", venue: "a", output: "venue:b" },
      { v: 1, type: "onair", venue: "a", title: "x\u202Ey" },
      { v: 1, type: "onair", venue: "a", title: "\uD800" },
      { v: 1, type: "onair", venue: "a", title: "x".repeat(81) },
      { v: 1, type: "onair", venue: "a", onAir: "yes" },
    ]
  ) assert.equal(parseOnAirMessage(bad).ok, false, JSON.stringify(bad));
});

Deno.test("VenueRouter: create, switch, on/off air, wanted ladder, resolve at a fixed size", () => {
  const outputs = new Map<string, SourceInfo>([
    ["main", { ring: "r-main", width: 1920, height: 1080, fps: 60 }],
    ["side", { ring: "r-side", width: 320, height: 320, fps: 30 }],
  ]);
  const rerouted: string[] = [];
  let changes = 0;
  const v = new VenueRouter({
    resolveOutput: (id) => outputs.get(id),
    onRerouted: (s) => rerouted.push(s),
    onChange: () => changes++,
    venues: [{ id: "stage", title: "Stage", output: "main" }],
  });
  assert.deepEqual(v.wanted(), []); // off air
  assert.ok(v.apply({ v: 1, type: "onair", venue: "stage", onAir: true }).ok);
  assert.deepEqual(v.wanted().map((r) => `${r.source}@${r.width}x${r.height}@${r.fps}`), [
    "venue:stage@1280x720@30",
    "venue:stage@640x360@30",
  ]);
  assert.deepEqual(v.resolve("venue:stage"), { ring: "r-main", width: 1280, height: 720, fps: 30 });
  assert.equal(v.apply({ v: 1, type: "onair", venue: "stage", output: "nope" }).ok, false);
  assert.ok(v.apply({ v: 1, type: "onair", venue: "stage", output: "side" }).ok);
  assert.deepEqual(rerouted, ["venue:stage"]);
  assert.deepEqual(v.resolve("venue:stage"), { ring: "r-side", width: 1280, height: 720, fps: 30 });
  assert.equal(v.get("stage")!.switches, 1);
  assert.equal(v.apply({ v: 1, type: "onair", venue: "new" }).ok, false); // needs an output
  assert.ok(v.apply({ v: 1, type: "onair", venue: "stage", remove: true }).ok);
  assert.equal(v.resolve("venue:stage"), undefined);
  assert.equal(changes, 4); // created, on air, switched, removed
});

Deno.test("a venue switch: new output from its own IDR on, never a mixed frame, one size, decodes clean", async () => {
  const a = PatternSender.start(`venue-test-${Deno.pid}-a`, 1280, 720, 60);
  await new Promise((r) => setTimeout(r, 1500)); // A's frame numbers run far ahead of B's
  const b = PatternSender.start(`venue-test-${Deno.pid}-b`, 480, 270, 30);
  const outputs = new Map<string, SourceInfo>([
    ["a", { ring: `venue-test-${Deno.pid}-a`, width: 1280, height: 720, fps: 60 }],
    ["b", { ring: `venue-test-${Deno.pid}-b`, width: 480, height: 270, fps: 30 }],
  ]);
  // deno-lint-ignore prefer-const
  let manager: EncodeSessionManager;
  const venues = new VenueRouter({
    resolveOutput: (id) => outputs.get(id),
    onRerouted: (s) => manager.rerouted(s),
    ladder: [{ width: 640, height: 360, fps: 30 }],
    venues: [{ id: "stage", title: "Stage", output: "a", onAir: true }],
  });
  manager = new EncodeSessionManager({
    resolveSource: (s) => venues.resolve(s) ?? outputs.get(s),
    encoderPreference: ["libx264"],
  });
  const frames: { f: EncodedFrame; at: number }[] = [];
  const sub = manager.subscribe(venueSource("stage"), { width: 640, height: 360, fps: 30 }, {
    onFrame: (f) => frames.push({ f, at: performance.now() }),
  }, "h264-baseline");
  try {
    // Wait for the first IDR, then switch at once: well inside MIN_IDR_INTERVAL_MS.
    const t0 = performance.now();
    while (!frames.length && performance.now() - t0 < 10000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(frames.length, "no frame from output a");
    const aAtSwitch = a.stats().framesSent;
    const switchAt = performance.now();
    const before = frames.length;
    assert.ok(venues.apply({ v: 1, type: "onair", venue: "stage", output: "b" }).ok);
    await new Promise((r) => setTimeout(r, 1500));
    const bEnd = b.stats().framesSent;
    assert.ok(
      bEnd < aAtSwitch - 40,
      `frame numbers too close to tell apart (${bEnd}/${aAtSwitch})`,
    );
    const isB = (f: EncodedFrame) => f.frame <= bEnd;
    const after = frames.slice(before);
    const firstB = after.findIndex((x) => isB(x.f));
    assert.ok(firstB >= 0, "no frame from output b after the switch");
    assert.ok(after[firstB].f.keyframe, "the new output's first frame is not an IDR");
    assert.ok(after.slice(firstB).every((x) => isB(x.f)), "a frame of output a after b's first");
    assert.ok(frames.every((x) => x.f.width === 640 && x.f.height === 360), "size changed");
    const delayMs = after[firstB].at - switchAt;
    console.log(`switch → first frame of the new output (IDR): ${delayMs.toFixed(0)} ms`);
    assert.ok(delayMs < 500, `switch took ${delayMs} ms`);
    // And back (frame numbers jump up now): again from an IDR of the new output, at once.
    const back = frames.length;
    const backAt = performance.now();
    assert.ok(venues.apply({ v: 1, type: "onair", venue: "stage", output: "a" }).ok);
    await new Promise((r) => setTimeout(r, 1000));
    const again = frames.slice(back);
    const firstA = again.findIndex((x) => !isB(x.f));
    assert.ok(firstA >= 0 && again[firstA].f.keyframe, "output a's first frame is not an IDR");
    assert.ok(again.slice(firstA).every((x) => !isB(x.f)), "a frame of output b after a's first");
    console.log(`switch back: ${(again[firstA].at - backAt).toFixed(0)} ms`);
    // The viewer's decoder: the whole delivered stream, one decoder, no error.
    const all = new Uint8Array(frames.reduce((n, x) => n + x.f.data.byteLength, 0));
    let o = 0;
    for (const x of frames) all.set(x.f.data, o), (o += x.f.data.byteLength);
    const ff = new Deno.Command("ffmpeg", {
      args: ["-v", "error", "-f", "h264", "-i", "pipe:0", "-f", "null", "-"],
      stdin: "piped",
      stderr: "piped",
      stdout: "null",
    }).spawn();
    const w = ff.stdin.getWriter();
    await w.write(all);
    await w.close();
    const out = await ff.output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 0, err);
    assert.equal(err, "", `ffmpeg reported decode errors:\n${err}`);
  } finally {
    sub.close();
    await manager.close();
    a.stop();
    b.stop();
  }
});

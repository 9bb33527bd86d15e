/**
 * Encode sessions against the real native shim: a pattern sender writes a frame ring, sessions
 * encode it with libx264 or libjpeg-turbo. Demand sharing, stop on last leave, IDR on join,
 * pacing, engine restart, one session per codec, and the budget weighting sessions by codec.
 */
import assert from "node:assert/strict";
import { PatternSender } from "../ffi/pattern.ts";
import type { EncodedFrame } from "../ffi/encoder.ts";
import { EncodeSessionManager, type SourceInfo, UnknownSourceError } from "./manager.ts";
import { type EncodeBudget, JPEG_COST_PER_H264 } from "./budget.ts";
import { pixelRate } from "../protocol/size_classes.ts";
import { MIN_IDR_INTERVAL_MS } from "./session.ts";

const ENCODERS = ["libx264"];
/** The pixel rate of the test source's full rendition (640x360@60). */
const FULL = pixelRate({ width: 640, height: 360, fps: 60 });

/** "cam", plus "cam2" and "cam3" reading the same ring (more sources without more senders). */
function setup(name: string, width = 640, height = 360, fps = 60, budget?: EncodeBudget) {
  const ring = `test-${Deno.pid}-${name}`;
  let sender: PatternSender | undefined = PatternSender.start(ring, width, height, fps);
  const info = { ring, width, height, fps };
  const sources = new Map<string, SourceInfo>([["cam", info], ["cam2", info], ["cam3", info]]);
  const manager = new EncodeSessionManager({
    resolveSource: (s) => sources.get(s),
    encoderPreference: ENCODERS,
    budget,
  });
  return {
    manager,
    ring,
    stopSender() {
      sender?.stop();
      sender = undefined;
    },
    restartSender() {
      sender = PatternSender.start(ring, width, height, fps);
    },
    async close() {
      await manager.close();
      sender?.stop();
    },
  };
}

function collector() {
  const frames: EncodedFrame[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    frames,
    sub: {
      onFrame(f: EncodedFrame) {
        frames.push(f);
        for (const w of waiters) if (frames.length >= w.n) w.resolve();
      },
    },
    async waitFor(n: number, timeoutMs = 10000): Promise<void> {
      if (frames.length >= n) return;
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ n, resolve });
      const t = setTimeout(resolve, timeoutMs);
      await promise;
      clearTimeout(t);
      assert.ok(frames.length >= n, `expected ${n} frames, got ${frames.length}`);
    },
  };
}

Deno.test("a viewer gets frames starting with an IDR at the rendition's size", async () => {
  const t = setup("basic");
  try {
    const c = collector();
    const sub = t.manager.subscribe("cam", { width: 640, height: 360, fps: 60 }, c.sub);
    assert.deepEqual(sub.rendition, { width: 640, height: 360, fps: 60 });
    await c.waitFor(20);
    assert.ok(c.frames[0].keyframe, "first frame is an IDR");
    assert.equal(c.frames[0].width, 640);
    assert.equal(c.frames[0].height, 360);
    for (let i = 1; i < c.frames.length; i++) {
      assert.ok(c.frames[i].frame > c.frames[i - 1].frame, "frame numbers advance");
    }
    assert.equal(sub.session.encoderName, "libx264");
    sub.close();
  } finally {
    await t.close();
  }
});

Deno.test("close demands share one session; the last leave stops it within a second", async () => {
  const t = setup("share");
  try {
    const a = collector(), b = collector();
    const sa = t.manager.subscribe("cam", { width: 600, height: 340, fps: 60 }, a.sub);
    const sb = t.manager.subscribe("cam", { width: 620, height: 350, fps: 50 }, b.sub);
    assert.equal(sa.session, sb.session);
    assert.equal(t.manager.size, 1);
    await Promise.all([a.waitFor(5), b.waitFor(5)]);
    sa.close();
    assert.equal(t.manager.size, 1, "one viewer left: still encoding");
    const session = sb.session;
    sb.close();
    assert.equal(t.manager.size, 0);
    const t0 = performance.now();
    await session.stop();
    assert.equal(session.state, "stopped");
    assert.ok(performance.now() - t0 < 1000, "stopped within a second");
    const before = b.frames.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.frames.length, before, "no frames after leaving");
  } finally {
    await t.close();
  }
});

Deno.test("a joining viewer starts on an IDR and the running viewer sees that IDR too", async () => {
  const t = setup("join");
  try {
    const a = collector();
    const sa = t.manager.subscribe("cam", { width: 640, height: 360, fps: 60 }, a.sub);
    await a.waitFor(30);
    const keysBefore = a.frames.filter((f) => f.keyframe).length;
    const b = collector();
    const sb = t.manager.subscribe("cam", { width: 640, height: 360, fps: 60 }, b.sub);
    await b.waitFor(5);
    assert.ok(b.frames[0].keyframe, "the joiner's first frame is an IDR");
    assert.ok(
      a.frames.filter((f) => f.keyframe).length > keysBefore,
      "an IDR was produced on join",
    );
    sa.close();
    sb.close();
  } finally {
    await t.close();
  }
});

Deno.test("a 30 fps demand on a 60 fps source is paced to about 30 fps", async () => {
  const t = setup("pace");
  try {
    const c = collector();
    const sub = t.manager.subscribe("cam", { width: 320, height: 180, fps: 30 }, c.sub);
    await c.waitFor(2);
    const n0 = c.frames.length, t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const fps = (c.frames.length - n0) / ((performance.now() - t0) / 1000);
    assert.ok(fps > 22 && fps < 36, `paced fps ${fps.toFixed(1)}`);
    sub.close();
  } finally {
    await t.close();
  }
});

Deno.test("an engine restart is a gap followed by an IDR, not an error", async () => {
  const t = setup("restart");
  try {
    const c = collector();
    const states: string[] = [];
    const sub = t.manager.subscribe("cam", { width: 640, height: 360, fps: 60 }, {
      onFrame: c.sub.onFrame,
      onState: (s) => states.push(s),
    });
    await c.waitFor(10);
    t.stopSender();
    await new Promise((r) => setTimeout(r, 2500)); // writer gone → session waits for the source
    assert.ok(states.includes("waiting-source"), `states: ${states.join(",")}`);
    const n = c.frames.length;
    t.restartSender();
    await c.waitFor(n + 10);
    assert.ok(c.frames[n].keyframe, "first frame after the restart is an IDR");
    assert.equal(sub.session.state, "running");
    sub.close();
  } finally {
    await t.close();
  }
});

Deno.test("unknown sources and bad demands are refused clearly", async () => {
  const t = setup("bad");
  try {
    assert.throws(
      () => t.manager.subscribe("nope", { width: 640, height: 360, fps: 30 }, collector().sub),
      UnknownSourceError,
    );
    assert.equal(t.manager.size, 0);
  } finally {
    await t.close();
  }
});

/** The SPS's profile_idc of an Annex-B access unit (66 Baseline, 77 Main); -1 without an SPS. */
function spsProfile(au: Uint8Array): number {
  for (let i = 0; i + 4 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1 && (au[i + 3] & 0x1f) === 7) {
      return au[i + 4];
    }
  }
  return -1;
}

Deno.test("the same rendition in two codecs is two sessions; the same codec is shared", async () => {
  const t = setup("codecs");
  try {
    const want = { width: 640, height: 360, fps: 60 };
    const main = collector(), base = collector(), jpegA = collector(), jpegB = collector();
    const sm = t.manager.subscribe("cam", want, main.sub); // default: H.264 Main
    const sb = t.manager.subscribe("cam", want, base.sub, "h264-baseline");
    const sj = t.manager.subscribe("cam", want, jpegA.sub, "jpeg");
    const sj2 = t.manager.subscribe("cam", want, jpegB.sub, "jpeg");
    assert.equal(t.manager.size, 3);
    assert.equal(sj.session, sj2.session, "two JPEG viewers share one session");
    assert.deepEqual([sm.session.id, sb.session.id, sj.session.id], [
      "cam@640x360@60",
      "cam@640x360@60/baseline",
      "cam@640x360@60/jpeg",
    ]);
    await Promise.all([main.waitFor(3), base.waitFor(3), jpegA.waitFor(3), jpegB.waitFor(3)]);
    assert.equal(spsProfile(main.frames[0].data), 77, "Main");
    assert.equal(spsProfile(base.frames[0].data), 66, "Baseline");
    assert.match(sm.session.codec, /^avc1\.4d/);
    assert.match(sb.session.codec, /^avc1\.42c0/);
    assert.equal(sj.session.codec, "jpeg");
    assert.equal(sj.session.encoderName, "libjpeg-turbo");
    const jpeg = jpegA.frames[0].data;
    assert.deepEqual([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
    assert.ok(jpegA.frames.every((f) => f.keyframe), "every JPEG frame is a keyframe");
    const stats = t.manager.stats().find((s) => s.id === sj.session.id)!;
    assert.equal(stats.codec, "jpeg");
    assert.equal(stats.codecString, "jpeg");
    for (const s of [sm, sb, sj, sj2]) s.close();
    assert.equal(t.manager.size, 0);
  } finally {
    await t.close();
  }
});

Deno.test("a JPEG joiner gets the very next frame, not the next IDR interval's", async () => {
  const t = setup("jpeg-join");
  try {
    const want = { width: 640, height: 360, fps: 60 };
    const a = collector();
    const sa = t.manager.subscribe("cam", want, a.sub, "jpeg");
    await a.waitFor(5);
    // Joins in quick succession: H.264 would ration them to one IDR per MIN_IDR_INTERVAL_MS.
    const joiners = [collector(), collector(), collector()];
    const subs = [];
    for (const j of joiners) {
      const t0 = performance.now();
      subs.push(t.manager.subscribe("cam", want, j.sub, "jpeg"));
      await j.waitFor(1);
      const took = performance.now() - t0;
      // Back to back, H.264 joiners would wait up to MIN_IDR_INTERVAL_MS each.
      const bound = MIN_IDR_INTERVAL_MS / 2;
      assert.ok(took < bound, `first JPEG frame after ${took.toFixed(0)} ms (< ${bound})`);
    }
    for (const s of [sa, ...subs]) s.close();
  } finally {
    await t.close();
  }
});

Deno.test("budget: a JPEG session counts a third of H.264; substitutes keep the codec", async () => {
  const budget = { maxSessions: 8, pixelsPerSecond: Math.round(FULL * 1.1) };
  const t = setup("budget-codecs", 640, 360, 60, budget);
  const want = { width: 640, height: 360, fps: 60 };
  const nobody = { onFrame() {} };
  try {
    // H.264: one full session fits, a second source's does not (it gets a smaller rendition).
    const h1 = t.manager.subscribe("cam", want, nobody);
    const h2 = t.manager.subscribe("cam2", want, nobody);
    assert.ok(!h1.limitedByBudget);
    assert.ok(h2.limitedByBudget, "a second 640x360@60 H.264 session is over the budget");
    // Over the budget, an H.264 session never stands in for a Baseline viewer: it could not
    // decode it. It gets a smaller Baseline session.
    const b = t.manager.subscribe("cam", want, nobody, "h264-baseline");
    assert.ok(b.limitedByBudget);
    assert.equal(b.session.key.codec, "h264-baseline");
    assert.ok(pixelRate(b.rendition) < FULL);
    // The same codec does stand in: a 30 fps H.264 demand joins the running 60 fps session.
    const h3 = t.manager.subscribe("cam", { ...want, fps: 30 }, nobody);
    assert.equal(h3.session, h1.session);
    assert.ok(!t.manager.canServe("cam3", want, "h264"));
    for (const s of [h1, h2, b, h3]) s.close();

    // JPEG: three full sessions fit where one H.264 did (3 × 0.34 ≤ 1.1).
    const j = ["cam", "cam2", "cam3"].map((src) => t.manager.subscribe(src, want, nobody, "jpeg"));
    assert.deepEqual(j.map((s) => s.limitedByBudget), [false, false, false]);
    assert.equal(t.manager.size, 3);
    assert.equal(t.manager.pixelRate, Math.round(3 * FULL * JPEG_COST_PER_H264));
    assert.ok(!t.manager.canServe("cam", want, "h264"), "no room left for a full H.264 session");
    for (const s of j) s.close();
  } finally {
    await t.close();
  }
});

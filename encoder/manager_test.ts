/**
 * Encode sessions against the real native shim: a pattern sender writes a frame ring, sessions
 * encode it with libx264. Demand sharing, stop on last leave, IDR on join, pacing, engine restart.
 */
import assert from "node:assert/strict";
import { PatternSender } from "../ffi/pattern.ts";
import type { EncodedFrame } from "../ffi/encoder.ts";
import { EncodeSessionManager, type SourceInfo, UnknownSourceError } from "./manager.ts";

const ENCODERS = ["libx264"];

function setup(name: string, width = 640, height = 360, fps = 60) {
  const ring = `test-${Deno.pid}-${name}`;
  let sender: PatternSender | undefined = PatternSender.start(ring, width, height, fps);
  const sources = new Map<string, SourceInfo>([["cam", { ring, width, height, fps }]]);
  const manager = new EncodeSessionManager({
    resolveSource: (s) => sources.get(s),
    encoderPreference: ENCODERS,
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

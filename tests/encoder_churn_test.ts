/**
 * RSS after encoder churn: 200 x264 sessions at 1280x720 opened, fed 10 frames and closed, three
 * at a time (a source's renditions run side by side), must leave the process within 20 MB of
 * where it was after a warm-up, with no session running. Before ffi/native/heap.c this run grew
 * by 120 MB (113 → 232 MB): glibc kept every closed session's pictures in per-thread arenas.
 * Sessions one at a time hid it (+5 MB), hence the three workers.
 */
import assert from "node:assert/strict";
import { H264Encoder } from "../ffi/encoder.ts";
import { openFileCount } from "../ffi/limits.ts";

const W = 1280, H = 720;
const SESSIONS = 200, WARM_UP = 12, AT_ONCE = 3, FRAMES = 10;
const MAX_GROWTH_MB = 20;

/** Two BGRA pictures (stripes shifted by a few pixels), so x264 codes real P-frames. */
function pictures(): Uint8Array<ArrayBuffer>[] {
  return [0, 6].map((shift) => {
    const px = new Uint8Array(W * H * 4);
    const words = new Uint32Array(px.buffer);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        words[y * W + x] = ((x + shift) >> 4) % 2 ? 0xff3070e0 : 0xff000000 | (y << 8) | x;
      }
    }
    return px;
  });
}

function rssMb(): number {
  return Deno.memoryUsage().rss / (1 << 20);
}

Deno.test(`${SESSIONS} encoder sessions at ${W}x${H}, ${AT_ONCE} at a time, leave RSS within ${MAX_GROWTH_MB} MB`, async () => {
  const px = pictures();
  let started = 0;
  /** One worker: sessions back to back until `until` have started in all. */
  async function worker(until: number): Promise<void> {
    while (started < until) {
      started++;
      const enc = await H264Encoder.open({ width: W, height: H, fps: 30, preference: ["libx264"] });
      try {
        for (let f = 0; f < FRAMES; f++) {
          const out = await enc.encodeRgba(px[f % 2], W, H, { forceIdr: f === 0 });
          assert.ok(out.data.length > 0);
        }
      } finally {
        enc.close();
      }
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: AT_ONCE }, () => worker(WARM_UP)));
  const warm = rssMb(), fdsWarm = openFileCount();
  await Promise.all(Array.from({ length: AT_ONCE }, () => worker(SESSIONS)));
  const end = rssMb(), fdsEnd = openFileCount();
  const figures =
    `RSS ${warm.toFixed(1)} MB after ${WARM_UP} sessions, ${end.toFixed(1)} MB after ` +
    `${started} (${(end - warm).toFixed(1)} MB) in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`;
  console.log(figures);
  assert.equal(started, SESSIONS);
  assert.ok(end - warm <= MAX_GROWTH_MB, `RSS grew too much: ${figures}`);
  assert.equal(fdsEnd, fdsWarm, "open descriptors after the churn");
});

import assert from "node:assert/strict";
import { PROBE_HOLD_MAX_MS, PROBE_HOLD_MS, RateController } from "./rate_controller.ts";
import { renditionLadder } from "../../protocol/size_classes.ts";
import { defaultBitrateKbps } from "../../ffi/encoder.ts";

const ladder = () =>
  renditionLadder({ width: 1280, height: 720, fps: 60 }, { width: 1280, height: 720, fps: 60 });
const kbps = (r: { width: number; height: number; fps: number }) =>
  defaultBitrateKbps(r.width, r.height, r.fps);

Deno.test("a slow link moves the viewer straight to a rendition that fits it", () => {
  const c = new RateController(ladder(), kbps);
  assert.equal(c.limit, null);
  assert.ok(c.trouble("link", 1000, 1200)); // 150 KB/s
  assert.equal(c.limit, "link");
  assert.ok(kbps(c.rendition) <= 1200 * 0.35, `${JSON.stringify(c.rendition)} fits`);
  assert.ok(!c.trouble("link", 1100, 1200), "a second step waits for the first to show");
});

Deno.test("a slow decoder or encoder lowers the rate first", () => {
  const c = new RateController(ladder(), kbps);
  assert.ok(c.trouble("decoder", 0));
  assert.equal(c.rendition.fps, 30);
  assert.equal(c.limit, "decoder");
  assert.ok(c.trouble("encoder", 1000));
  assert.equal(c.rendition.fps, 15);
});

Deno.test("quiet spells probe back up; failed probes wait longer", () => {
  const c = new RateController(ladder(), kbps);
  c.trouble("decoder", 0);
  const down = c.level;
  assert.ok(!c.tick(PROBE_HOLD_MS - 1));
  assert.ok(c.tick(PROBE_HOLD_MS));
  assert.equal(c.level, down - 1, "one step at a time");
  let t = PROBE_HOLD_MS;
  while (c.level > 0) assert.ok(c.tick(t += PROBE_HOLD_MS));
  assert.equal(c.limit, null);
  // Trouble right after the probe: the next probe waits twice as long.
  const t0 = t + 100;
  c.trouble("decoder", t0);
  assert.ok(!c.tick(t0 + PROBE_HOLD_MS));
  assert.ok(c.tick(t0 + 2 * PROBE_HOLD_MS));
  assert.ok(2 * PROBE_HOLD_MS <= PROBE_HOLD_MAX_MS);
});

Deno.test("the bottom of the ladder is a floor", () => {
  const c = new RateController(ladder(), kbps);
  let t = 0;
  while (c.trouble("link", t += 1000, 1)) { /* down */ }
  assert.equal(c.level, ladder().length - 1);
  assert.deepEqual(c.rendition, { width: 320, height: 180, fps: 15 });
});

Deno.test("a pinned viewer (SMX_ADAPT=off) stays at the top of its ladder", () => {
  const c = new RateController(ladder(), kbps, true);
  for (const kind of ["link", "decoder", "encoder"] as const) {
    assert.equal(c.trouble(kind, 1000, 100), false);
  }
  assert.equal(c.level, 0);
  assert.equal(c.limit, null);
  assert.deepEqual(c.rendition, ladder()[0]);
});

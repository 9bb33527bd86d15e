/** DemandAggregator with an injected clock: replacement, rounding, dedup, expiry, cap, sources. */
import assert from "node:assert/strict";
import { DemandAggregator, renditionKey } from "./demand.ts";
import type { PublishedRendition } from "../../../protocol/wan.ts";
import type { Rendition } from "../../../protocol/size_classes.ts";

function setup(o: { max?: number } = {}) {
  let t = 1000;
  const sources = new Map<string, Rendition>([
    ["main", { width: 1920, height: 1080, fps: 60 }],
    ["aux", { width: 640, height: 480, fps: 30 }],
  ]);
  const calls: string[][] = [];
  const d = new DemandAggregator({
    resolveSource: (s) => sources.get(s),
    onWanted: (l: PublishedRendition[]) => calls.push(l.map(renditionKey)),
    now: () => t,
    maxRenditions: o.max,
  });
  return { d, calls, sources, advance: (ms: number) => (t += ms) };
}

Deno.test("a tile is rounded with renditionFor against the source's current size", () => {
  const { d, calls } = setup();
  d.update("c1", [{ source: "main", width: 700, height: 400, fps: 50 }]);
  // 700 px wide → the 960 class, 16:9 → 540; 50 fps → 60.
  assert.deepEqual(calls, [["main@960x540@60"]]);
  assert.deepEqual(d.wanted(), [{ source: "main", width: 960, height: 540, fps: 60 }]);
});

Deno.test("equal renditions from several pages are one; a page's new demand replaces its old", () => {
  const { d, calls } = setup();
  d.update("c1", [{ source: "main", width: 600, height: 338, fps: 30 }]);
  d.update("c2", [{ source: "main", width: 630, height: 354, fps: 25 }]); // same class
  assert.deepEqual(calls, [["main@640x360@30"]]); // no call for an unchanged set
  d.update("c1", [{ source: "aux", width: 300, height: 200, fps: 15 }]);
  assert.deepEqual(calls.at(-1), ["aux@320x240@15", "main@640x360@30"]);
  d.update("c2", []); // withdraws
  assert.deepEqual(calls.at(-1), ["aux@320x240@15"]);
  assert.equal(d.stats.clients, 1);
});

Deno.test("a page silent for DEMAND_EXPIRY_MS is forgotten; a heartbeat keeps it", () => {
  const { d, calls, advance } = setup();
  d.update("c1", [{ source: "main", width: 300, height: 169, fps: 30 }]);
  d.update("c2", [{ source: "aux", width: 640, height: 480, fps: 30 }]);
  advance(10000);
  d.update("c2", [{ source: "aux", width: 640, height: 480, fps: 30 }]); // heartbeat
  advance(5001);
  d.tick();
  assert.deepEqual(calls.at(-1), ["aux@640x480@30"]);
  advance(10000);
  d.tick();
  assert.deepEqual(calls.at(-1), []);
  assert.equal(d.stats.clients, 0);
});

Deno.test("unknown sources wait; a source's size change re-rounds on the next tick", () => {
  const { d, calls, sources } = setup();
  d.update("c1", [{ source: "late", width: 640, height: 360, fps: 30 }]);
  assert.deepEqual(calls, []); // nothing wanted, nothing changed
  sources.set("late", { width: 1280, height: 720, fps: 30 });
  d.tick();
  assert.deepEqual(calls.at(-1), ["late@640x360@30"]);
  sources.set("late", { width: 480, height: 270, fps: 30 }); // the engine shrank its output
  d.tick();
  assert.deepEqual(calls.at(-1), ["late@480x270@30"]);
});

Deno.test("the set is capped: most-asked first, then the cheaper", () => {
  const { d, calls } = setup({ max: 2 });
  d.update("c1", [
    { source: "main", width: 1900, height: 1070, fps: 60 },
    { source: "main", width: 300, height: 169, fps: 30 },
  ]);
  d.update("c2", [{ source: "main", width: 1900, height: 1070, fps: 60 }]);
  d.update("c3", [{ source: "main", width: 900, height: 500, fps: 30 }]);
  // 1920 asked twice; 320 and 960 once each → the cheaper 320 wins the second place.
  assert.deepEqual(calls.at(-1), ["main@320x180@30", "main@1920x1080@60"]);
  assert.equal(d.stats.capped, 1);
});

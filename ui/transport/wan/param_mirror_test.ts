import assert from "node:assert/strict";
import type { ChannelMeta, DeltaMsg, LinkMsg, SnapshotMsg } from "../../../protocol/params.ts";
import type { ParamsChannelMsg, StateMsg } from "../../../protocol/wan.ts";
import { GAP_SYNC_MS, type MirrorEvent, ParamMirror } from "./param_mirror.ts";

const metas: ChannelMeta[] = [
  { path: "a", type: "float", label: "A", default: 0 } as ChannelMeta,
  { path: "b", type: "float", label: "B", default: 0 } as ChannelMeta,
];
const link: LinkMsg = {
  v: 1,
  type: "link",
  state: "connected",
  engine: { name: "demo", instanceId: "i1", url: "ws://x" },
};

function snap(rev: number, a: number, instanceId = "i1"): SnapshotMsg {
  return {
    v: 1,
    type: "snapshot",
    rev,
    instanceId,
    engine: "demo",
    channels: metas,
    values: { a, b: 0 },
  };
}
const state = (s: SnapshotMsg | null, l: LinkMsg = link): StateMsg => ({
  v: 1,
  type: "state",
  snapshot: s,
  link: l,
  sources: [{ id: "main", label: "Main", width: 1280, height: 720, fps: 60 }],
});
const delta = (rev: number, a: number): DeltaMsg => ({
  v: 1,
  type: "delta",
  rev,
  changes: ["a", a],
});

function mirror() {
  const events: MirrorEvent[] = [];
  const m = new ParamMirror((e) => events.push(e), "me");
  return { m, events, kinds: () => events.map((e) => e.type) };
}

Deno.test("WAN mirror: the StateMsg gives snapshot, link and sources; deltas that continue apply", () => {
  const { m, kinds } = mirror();
  assert.ok(m.onState(state(snap(10, 1))));
  assert.deepEqual(kinds(), ["link", "sources", "snapshot"]);
  m.onParams(delta(11, 2));
  assert.equal(m.store.get("a"), 2);
  assert.equal(m.store.rev, 11);
  assert.equal(kinds().at(-1), "changes");
  // The same sources again: no event.
  m.onState(state(snap(11, 2)));
  assert.equal(kinds().filter((k) => k === "sources").length, 1);
  assert.equal(m.onState({ type: "delta" }), false);
});

Deno.test("WAN mirror: a delta before its StateMsg is held and applied on top of it", () => {
  const { m } = mirror();
  m.onParams(delta(11, 2), 0); // nothing yet
  m.onParams(delta(12, 3), 0);
  assert.equal(m.store.hasSnapshot, false);
  assert.equal(m.heldCount, 2);
  m.onState(state(snap(10, 1)), 10);
  assert.equal(m.store.rev, 12);
  assert.equal(m.store.get("a"), 3);
  assert.equal(m.heldCount, 0);
  assert.equal(m.needsSync(10_000), false);
});

Deno.test("WAN mirror: a gap waits for the next StateMsg, then asks with sync", () => {
  const { m } = mirror();
  m.onState(state(snap(10, 1)), 0);
  m.onParams(delta(12, 3), 100); // 11 was missed
  assert.equal(m.store.rev, 10);
  assert.equal(m.store.get("a"), 1);
  assert.equal(m.needsSync(100 + GAP_SYNC_MS - 1), false);
  assert.equal(m.needsSync(100 + GAP_SYNC_MS), true);
  m.syncSent(100 + GAP_SYNC_MS);
  assert.equal(m.needsSync(100 + GAP_SYNC_MS + 10), false);
  // The republished state covers 11 and 12; the held 12 is dropped as covered.
  m.onState(state(snap(12, 3)), 2000);
  assert.equal(m.store.rev, 12);
  assert.equal(m.heldCount, 0);
  // Or a state at 11 lets the held 12 apply.
  m.onParams(delta(14, 5), 2100);
  m.onState(state(snap(13, 4)), 2200);
  assert.equal(m.store.rev, 14);
  assert.equal(m.store.get("a"), 5);
});

Deno.test("WAN mirror: an older StateMsg of the same engine changes no values", () => {
  const { m, kinds } = mirror();
  m.onState(state(snap(10, 1)));
  m.onParams(delta(11, 2));
  m.onParams(delta(11, 2)); // duplicate
  assert.equal(m.stats.duplicates, 1);
  const before = kinds().length;
  m.onState(state(snap(10, 1))); // published before delta 11, delivered after it
  assert.equal(m.store.get("a"), 2);
  assert.equal(m.store.rev, 11);
  assert.equal(kinds().length, before);
  // A restarted engine (new instance) starts a new rev sequence: its snapshot wins.
  m.onState(state(snap(3, 7, "i2")));
  assert.equal(m.store.get("a"), 7);
  assert.equal(m.store.rev, 3);
});

Deno.test("WAN mirror: link changes and answers addressed to this page only", () => {
  const { m, events } = mirror();
  m.onState(state(null, { v: 1, type: "link", state: "offline", engine: null, message: "gone" }));
  assert.deepEqual(events.map((e) => e.type), ["link", "sources"]);
  const msg = (x: ParamsChannelMsg) => m.onParams(x);
  msg({ v: 1, type: "ack", id: 4, rev: 1, to: "someone" });
  msg({ v: 1, type: "ack", id: 5, rev: 1 });
  msg({ v: 1, type: "ack", id: 6, rev: 1, to: "me" });
  msg({ v: 1, type: "error", id: 7, code: "out_of_range", message: "no", path: "a", to: "me" });
  msg({ v: 1, type: "error", id: 8, code: "out_of_range", message: "no", to: "other" });
  msg(link);
  assert.deepEqual(events.slice(2), [
    { type: "ack", id: 6 },
    { type: "error", id: 7, code: "out_of_range", message: "no", path: "a" },
    { type: "link", msg: link },
  ]);
});

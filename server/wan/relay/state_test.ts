/** StateScheduler's cadence with short intervals (real timers) and buildState's redactions. */
import assert from "node:assert/strict";
import { buildState, StateScheduler } from "./state.ts";
import type { RelayMirror } from "./remote_write.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("changes: the first at once, then one per interval, and one after the last", async () => {
  const at: number[] = [];
  const t0 = performance.now();
  const s = new StateScheduler({ publish: () => at.push(performance.now() - t0), coalesceMs: 50 });
  let lastChange = 0;
  for (let i = 0; i < 30; i++) { // 300 ms of changes every 10 ms
    s.changed();
    lastChange = performance.now() - t0; // before the sleep: a loaded machine stretches it
    await sleep(10);
  }
  await sleep(120);
  s.stop();
  assert.ok(at[0] < 10, `first at ${at[0]}`);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= 45, at.join(","));
  // At most one per interval over the time the changes took (a loaded machine stretches it).
  const most = Math.ceil(lastChange / 50) + 1;
  assert.ok(at.length >= 4 && at.length <= most, `${at.length} states: ${at.join(",")}`);
  assert.ok(at.at(-1)! >= lastChange - 10, "one state after the last change");
});

Deno.test("syncs: at most one per syncMinMs for everyone; `now` is never delayed", async () => {
  let n = 0;
  const s = new StateScheduler({ publish: () => n++, syncMinMs: 100 });
  for (let i = 0; i < 20; i++) s.sync();
  assert.equal(n, 1);
  s.now();
  assert.equal(n, 2);
  await sleep(130);
  assert.equal(n, 3); // the coalesced syncs' one state
  assert.equal(s.counts.syncCoalesced, 18);
  s.stop();
});

Deno.test("buildState: no snapshot while offline, no Smx channels, no engine URL", () => {
  const snapshot = {
    v: 1 as const,
    type: "snapshot" as const,
    rev: 3,
    instanceId: "i",
    engine: "demo",
    channels: [
      { path: "A.B", type: "float" as const, label: "", group: "", page: "", default: 0 },
      {
        path: "Smx.Pairing.Url",
        type: "string" as const,
        label: "",
        group: "",
        page: "",
        default: "",
      },
    ],
    values: { "A.B": 1, "Smx.Pairing.Url": "http://secret" },
  };
  const mirror = (state: "connected" | "offline"): RelayMirror => ({
    link: {
      v: 1,
      type: "link",
      state,
      engine: state === "connected"
        ? { name: "demo", instanceId: "i", url: "ws://10.0.0.5:1" }
        : null,
    },
    snapshot: () => snapshot,
    subscribe: () => () => {},
    write: () => Promise.reject(new Error("no")),
  });
  const on = buildState(mirror("connected"), []);
  assert.equal(on.link.engine?.url, "");
  assert.deepEqual(Object.keys(on.snapshot!.values), ["A.B"]);
  assert.ok(!JSON.stringify(on).includes("secret"));
  assert.equal(buildState(mirror("offline"), []).snapshot, null);
});

/**
 * The mirror against real demo-engine processes: stays identical to the engine's hub (and so
 * does a browser behind smx's /ws/params) under churn from both sides and across an engine
 * restart in the middle of it; plus gap detection and dead-link detection against scripted hubs.
 */
import assert from "node:assert/strict";
import { discoverEngines, selectEngine } from "../server/engine/discovery.ts";
import { ParamMirror, ParamWriteError } from "../server/engine/param_mirror.ts";
import { ParamClient } from "../protocol/params_client.ts";
import { isSmxChannel } from "../server/params/smx_channels.ts";
import { ParamStore } from "../protocol/param_store.ts";
import type { ChannelMeta } from "../protocol/params.ts";
import { KINDS, randomValue } from "../demo/churn.ts";
import { type DemoProc, engineDebug, startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { startParamServer } from "./support/param_server.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);
const hubUrl = (e: DemoProc) => `ws://127.0.0.1:${e.port}/ws/hub?token=${e.token}`;

/** Writes `perTick` random valid values every 5 ms through the mirror until stopped. */
function writeChurn(mirror: ParamMirror, perTick: number) {
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const results = { acked: 0, offline: 0, other: [] as string[] };
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const targets = mirror.channels().filter((m: ChannelMeta) => KINDS.has(m.type) && !m.readOnly);
    for (let i = 0; i < perTick && targets.length > 0; i++) {
      const m = targets[Math.floor(rnd() * targets.length)];
      const p = mirror.write(m.path, randomValue(m, rnd)).then(
        () => void results.acked++,
        (e: ParamWriteError) => {
          if (e.code === "engine_offline") results.offline++;
          else results.other.push(`${e.code}: ${e.message}`);
        },
      );
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    }
  }, 5);
  return {
    results,
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...inflight]);
    },
  };
}

/** Waits until engine observer, mirror and browser are at the same rev, then compares values. */
async function assertInSync(observer: ParamClient, mirror: ParamMirror, browser: ParamClient) {
  await waitFor(
    () =>
      observer.store.rev >= 0 && mirror.rev === observer.store.rev &&
      browser.store.rev === observer.store.rev,
    `same rev (engine ${observer.store.rev}, mirror ${mirror.rev}, browser ${browser.store.rev})`,
  );
  const engineValues = observer.store.values();
  assert.deepEqual(mirror.snapshot()!.values, engineValues, "mirror == engine hub");
  // Browsers never see smx's own Smx.* channels (server/params/smx_channels.ts).
  const forBrowsers = Object.fromEntries(
    Object.entries(engineValues).filter(([path]) => !isSmxChannel(path)),
  );
  assert.deepEqual(browser.store.values(), forBrowsers, "browser == engine hub less Smx.*");
  assert.equal(mirror.snapshot()!.instanceId, observer.store.instanceId);
  const paths = mirror.channels().map((c) => c.path);
  assert.equal(new Set(paths).size, paths.length, "no duplicated channels");
  assert.equal(paths.length, observer.store.metas.length);
}

Deno.test("mirror: identical to the hub under churn from both sides, and after an engine restart mid-churn", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-mirror-" });
  const name = `churn-${uniq()}`;
  let engine = await startDemoEngine({ name, portDir: dir });
  const mirror = new ParamMirror({
    engine: async () => {
      const r = await discoverEngines({ portDir: dir, probePorts: false });
      return selectEngine(r.engines, name) ?? null;
    },
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  }).start();
  const smx = startParamServer(mirror);
  let observer = new ParamClient(hubUrl(engine));
  const browser = new ParamClient(smx.url);
  let snapshotsSeen = 0;
  browser.subscribe((e) => void (e.type === "snapshot" && snapshotsSeen++));
  try {
    await Promise.all([mirror.whenConnected(10000), observer.ready, browser.ready]);

    // Phase 1: ~4000 engine-side changes/s + ~3000 writes/s through smx, for 1.5 s.
    await engineDebug(engine, "/debug/churn?rate=4000", "POST");
    const w1 = writeChurn(mirror, 15);
    await new Promise((r) => setTimeout(r, 1500));
    await engineDebug(engine, "/debug/churn?rate=0", "POST");
    await w1.stop();
    assert.deepEqual(w1.results.other, []);
    assert.equal(w1.results.offline, 0);
    // ~3000/s nominal; the bound leaves room for a loaded machine (tests run in parallel).
    assert.ok(w1.results.acked > 750, `acked ${w1.results.acked}`);
    await assertInSync(observer, mirror, browser);
    assert.ok(observer.store.rev > 5000, `rev ${observer.store.rev} shows real churn`);
    assert.equal(snapshotsSeen, 1, "no resync was needed: no gap, no duplicate");

    // Phase 2: churn again, kill the engine (a crash: SIGKILL leaves its port file), start a
    // new one with the same name while smx keeps writing.
    await engineDebug(engine, "/debug/churn?rate=4000", "POST");
    const w2 = writeChurn(mirror, 10);
    await new Promise((r) => setTimeout(r, 500));
    const oldInstance = engine.instanceId;
    await engine.kill("SIGKILL");
    observer.close();
    await waitFor(() => mirror.state !== "connected", "mirror notices the crash");
    engine = await startDemoEngine({ name, portDir: dir });
    await engineDebug(engine, "/debug/churn?rate=4000", "POST");
    await waitFor(() => mirror.state === "connected", "mirror reconnects", 10000);
    await new Promise((r) => setTimeout(r, 700));
    await engineDebug(engine, "/debug/churn?rate=0", "POST");
    await w2.stop();
    assert.deepEqual(w2.results.other, []);
    assert.ok(w2.results.offline > 0, "writes during the outage are refused, not queued");
    assert.ok(w2.results.acked > 0);
    assert.notEqual(mirror.snapshot()!.instanceId, oldInstance);
    assert.equal(mirror.snapshot()!.instanceId, engine.instanceId);
    observer = new ParamClient(hubUrl(engine));
    await observer.ready;
    await assertInSync(observer, mirror, browser);
    assert.equal(browser.store.instanceId, engine.instanceId, "browser got the new snapshot");
  } finally {
    observer.close();
    browser.close();
    await smx.close();
    await mirror.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A scripted hub: sends what `script` says to each client and records what clients send. */
function scriptedHub(script: (socket: WebSocket, got: string[]) => void) {
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => got.push(e.data);
    socket.onopen = () => script(socket, got);
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/`, got, close: () => server.shutdown() };
}

const META: ChannelMeta[] = [
  { path: "A.x", type: "float", label: "x", group: "g", page: "p", default: 0, min: 0, max: 10 },
];
const snap = (rev: number, x: number) =>
  JSON.stringify({
    v: 1,
    type: "snapshot",
    rev,
    instanceId: "i",
    engine: "e",
    channels: META,
    values: { "A.x": x },
  });

Deno.test("client: a gap in revs triggers a sync and the fresh snapshot wins", async () => {
  const hub = scriptedHub((s, got) => {
    s.send(snap(0, 0));
    s.send(JSON.stringify({ v: 1, type: "delta", rev: 1, changes: ["A.x", 1] }));
    s.send(JSON.stringify({ v: 1, type: "delta", rev: 5, changes: ["A.x", 5] })); // 2..4 lost
    s.send(JSON.stringify({ v: 1, type: "delta", rev: 6, changes: ["A.x", 6] })); // ignored
    const t = setInterval(() => {
      if (got.some((g) => JSON.parse(g).type === "sync")) {
        clearInterval(t);
        s.send(snap(7, 7));
      }
    }, 5);
  });
  const c = new ParamClient(hub.url);
  try {
    await waitFor(() => c.store.rev === 7, "resync to rev 7", 5000);
    assert.equal(c.store.get("A.x"), 7);
    assert.equal(hub.got.filter((g) => JSON.parse(g).type === "sync").length, 1);
  } finally {
    c.close();
    await hub.close();
  }
});

Deno.test("client: a hub that stops answering is declared dead; pending writes are rejected", async () => {
  const hub = scriptedHub((s) => s.send(snap(0, 0))); // never pongs, never acks
  const c = new ParamClient(hub.url, { pingMs: 100, deadMs: 400, writeTimeoutMs: 5000 });
  try {
    await c.ready;
    const w = c.set("A.x", 3);
    const closed = new Promise<string>((r) =>
      c.subscribe((e) => void (e.type === "close" && r(e.reason)))
    );
    assert.match(await closed, /no message from the hub/);
    await assert.rejects(w, (e: ParamWriteError) => e.code === "engine_offline");
  } finally {
    c.close();
    await hub.close();
  }
});

Deno.test("store: applyDelta refuses gaps and duplicates without applying them", () => {
  const s = new ParamStore();
  s.applySnapshot(JSON.parse(snap(3, 1)));
  assert.equal(s.applyDelta({ v: 1, type: "delta", rev: 3, changes: ["A.x", 9] }), false);
  assert.equal(s.applyDelta({ v: 1, type: "delta", rev: 6, changes: ["A.x", 9] }), false);
  assert.equal(s.get("A.x"), 1);
  assert.equal(s.applyDelta({ v: 1, type: "delta", rev: 5, changes: ["A.x", 2, "A.x", 4] }), true);
  assert.equal(s.get("A.x"), 4);
  assert.equal(s.rev, 5);
});

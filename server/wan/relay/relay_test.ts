/**
 * WanRelay end to end with the real servers: Centrifugo v6 (memory engine, test config on
 * loopback), the demo engine, a ParamMirror on its hub, and page-like centrifuge clients holding
 * the tokens the site would mint. One stack for the whole file (steps in order) to stay well
 * under a minute on a shared 2-core machine.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../../engine/param_mirror.ts";
import {
  channelOf,
  DEMAND_EXPIRY_MS,
  type ParamsChannelMsg,
  type PublishedRendition,
  publisherIdentity,
  type StateMsg,
  type WanSourceInfo,
} from "../../../protocol/wan.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { CentrifugoApi, CentrifugoApiError } from "./centrifugo_api.ts";
import { connectPage, startCentrifugo, type TestPage } from "../../../tests/support/centrifugo.ts";
import { FLOOD_DISCONNECT_CODE, WanRelay } from "./relay.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);
const SOURCES: WanSourceInfo[] = [
  { id: "main", label: "Main", width: 1280, height: 720, fps: 60 },
];
const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

Deno.test("WanRelay through a real Centrifugo with the demo engine", async (t) => {
  const engineId = `e-${uniq()}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-relay-" });
  const engine = await startDemoEngine({ name: `relay-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const cf = await startCentrifugo({ origin: "http://127.0.0.1:9" });
  const wanted: PublishedRendition[][] = [];
  const keyframes: string[] = [];
  const logs: string[] = [];
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: cf.tokenSecret },
    mirror,
    sources: () => SOURCES,
    resolveSource: (id) => SOURCES.find((s) => s.id === id),
    log: (level, m) => logs.push(`${level} ${m}`),
    onWanted: (l) => wanted.push(l),
    onKeyframe: (id) => keyframes.push(id),
    // Low enough that a test can flood it quickly; the rules are the local ones.
    limits: { ratePerSecond: 100, burst: 100, penaltyMs: 3000 },
    demandExpiryMs: 1500,
  });
  const pages: TestPage[] = [];
  const page = async (user = "alice") => {
    const p = await connectPage({
      url: cf.url,
      tokenSecret: cf.tokenSecret,
      user,
      engine: engineId,
    });
    pages.push(p);
    return p;
  };
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    await relay.flushed();

    await t.step("a late joiner gets the current state from smx_state", async () => {
      const p = await page();
      const s = await p.nextState((m) => m.snapshot !== null, "a state with a snapshot");
      assert.equal(s.type, "state");
      assert.equal(s.link.state, "connected");
      assert.equal(s.link.engine?.url, "", "the studio-side engine URL stays home");
      // The demo engine's audio meter moves 4×/s: the state may be a change or two behind.
      assert.ok(s.snapshot!.rev <= mirror.rev && s.snapshot!.rev >= mirror.rev - 3);
      assert.deepEqual(s.sources, SOURCES);
      assert.ok(!s.snapshot!.channels.some((c) => c.path.startsWith("Smx.")));
      assert.equal(s.snapshot!.values["Color.Shapes.Hue"], mirror.get("Color.Shapes.Hue"));
      console.log(`StateMsg of the demo engine: ${JSON.stringify(s).length} bytes`);
    });

    await t.step("a set reaches the engine; delta to all, ack to the writer only", async () => {
      const [a, b] = [pages[0], await page("bob")];
      await a.publish({ v: 1, type: "set", id: 7, path: "Color.Shapes.Hue", value: 0.375 });
      const ack = await a.nextParams((m) => m.type === "ack" && m.id === 7, "ack 7");
      assert.equal(ack.to, a.clientId);
      assert.equal(mirror.get("Color.Shapes.Hue"), 0.375);
      const delta = (m: ParamsChannelMsg) =>
        m.type === "delta" && m.changes.includes("Color.Shapes.Hue") && m.changes.includes(0.375);
      await b.nextParams(delta, "the delta on the other page");
      assert.ok(!b.params.some((m) => m.type === "ack" && m.to === b.clientId));
      assert.ok(ack.type === "ack" && ack.rev >= 1);
    });

    await t.step("tags filters: a page can leave out others' answers and ctl traffic", async () => {
      const a = pages[0]; // alice, unfiltered
      const f = await connectPage({
        url: cf.url,
        tokenSecret: cf.tokenSecret,
        user: "frank",
        engine: engineId,
        filtered: true,
      });
      pages.push(f);
      await f.publish({ v: 1, type: "set", id: 31, path: "Color.Shapes.Hue", value: 0.3125 });
      await f.nextParams((m) => m.type === "ack" && m.id === 31 && m.to === f.clientId, "own ack");
      await a.nextParams((m) => m.type === "ack" && m.id === 31, "alice sees frank's ack");
      await a.publish({ v: 1, type: "set", id: 32, path: "Color.Shapes.Hue", value: 0.4375 });
      await a.nextParams((m) => m.type === "ack" && m.id === 32, "alice's ack");
      await f.nextParams((m) => m.type === "delta" && m.changes.includes(0.4375), "the delta");
      await relay.flushed();
      assert.ok(!f.params.some((m) => m.type === "ack" && m.id === 32), JSON.stringify(f.params));
      assert.ok(a.ctl.some((m) => (m as { id?: number }).id === 31), "alice sees frank's set");
      assert.equal(f.ctl.length, 0, "frank sees no ctl publications");
    });

    await t.step("set → delta round trip through Centrifugo (loopback)", async () => {
      const a = pages[0];
      const rtt: number[] = [];
      for (let i = 0; i < 40; i++) {
        const value = 0.01 + i / 100;
        const from = a.params.length;
        const t0 = performance.now();
        await a.publish({ v: 1, type: "set", id: 100 + i, path: "Color.Shapes.Hue", value });
        let at = -1;
        await waitFor(
          () => {
            const k = a.params.findIndex((m, j) =>
              j >= from && m.type === "delta" && m.changes.includes(value)
            );
            if (k >= 0) at = a.paramsAt[k];
            return k >= 0;
          },
          `delta ${i}`,
          5000,
        );
        rtt.push(at - t0);
      }
      console.log(
        `set→delta through Centrifugo: median ${median(rtt).toFixed(1)} ms, ` +
          `max ${Math.max(...rtt).toFixed(1)} ms over ${rtt.length}`,
      );
    });

    await t.step("bad publications get an error addressed to their sender", async () => {
      const a = pages[0];
      const err = (code: string) => (m: ParamsChannelMsg) =>
        m.type === "error" && m.code === code && m.to === a.clientId;
      await a.publish({ hello: "world" });
      await a.nextParams(err("bad_message"), "bad_message for an unknown shape");
      await a.publish({ v: 1, type: "demand", tiles: [], pad: "x".repeat(20000) });
      await a.nextParams(err("too_large"), "too_large for 20 kB");
      await a.publish({ v: 1, type: "set", id: 9, path: "Scene.Shapes.Count", value: "many" });
      const e = await a.nextParams(err("wrong_type"), "wrong_type");
      assert.ok(e.type === "error" && e.id === 9 && e.path === "Scene.Shapes.Count");
      await a.publish({ v: 1, type: "set", id: 10, path: "Smx.Pairing.Url", value: "x" });
      await a.nextParams(err("read_only"), "read_only for smx's own channels");
      await a.publish("just a string");
      await a.nextParams(err("bad_message"), "bad_message for a string");
      assert.equal(mirror.get("Scene.Shapes.Count") !== "many", true);
    });

    await t.step("a page's sync brings a fresh state at once", async () => {
      const a = pages[0];
      await relay.flushed();
      const before = a.states.length;
      await a.publish({ v: 1, type: "sync" });
      await waitFor(() => a.states.length > before, "a state after sync", 3000);
      assert.ok(a.states.at(-1)!.snapshot!.rev >= mirror.rev - 3);
    });

    await t.step("demand → onWanted; keyframe → onKeyframe; silence expires it", async () => {
      const a = pages[0];
      await a.publish({
        v: 1,
        type: "demand",
        tiles: [
          { source: "main", width: 600, height: 338, fps: 30 },
          { source: "main", width: 630, height: 354, fps: 25 }, // same class
          { source: "nope", width: 640, height: 360, fps: 30 }, // not on offer
        ],
      });
      await waitFor(() => wanted.length > 0, "onWanted");
      assert.deepEqual(wanted.at(-1), [{ source: "main", width: 640, height: 360, fps: 30 }]);
      const identity = publisherIdentity(wanted.at(-1)![0]);
      await a.publish({ v: 1, type: "keyframe", identity });
      await waitFor(() => keyframes.includes(identity), "onKeyframe");
      assert.ok(DEMAND_EXPIRY_MS > 1500); // the test's shorter expiry stands for it
      await waitFor(() => wanted.at(-1)!.length === 0, "demand expired", 5000);
    });

    await t.step("a flood gets rate_limited, then the flooder is disconnected", async () => {
      const f = await page("mallory");
      const disconnected = new Promise<number>((r) => f.client.on("connecting", (c) => r(c.code)));
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 600; i++) {
        sends.push(f.publish({ v: 1, type: "sync" }).catch(() => {}));
      }
      await Promise.all(sends);
      await f.nextParams(
        (m) => m.type === "error" && m.code === "rate_limited" && m.to === f.clientId,
        "rate_limited",
      );
      const code = await Promise.race([
        disconnected,
        new Promise<number>((r) => setTimeout(() => r(-1), 5000)),
      ]);
      assert.equal(code, FLOOD_DISCONNECT_CODE, "Centrifugo disconnected the flooder");
      const r = relay.stats().remote;
      assert.ok(r.rateLimited > 0 && r.disconnects >= 1, JSON.stringify(r));
      // Others are unaffected: a set from alice still goes through.
      await pages[0].publish({ v: 1, type: "set", id: 500, path: "Color.Shapes.Hue", value: 0.5 });
      await pages[0].nextParams((m) => m.type === "ack" && m.id === 500, "ack after the flood");
      // The syncs that got through were coalesced to at most one state a second.
      assert.ok(relay.stats().state.syncCoalesced > 0);
    });

    await t.step("a subscription token for another engine's channel is refused", async () => {
      const p = await connectPage({
        url: cf.url,
        tokenSecret: cf.tokenSecret,
        user: "eve",
        engine: engineId,
        kinds: ["ctl", "state"],
        tokenChannel: (ch) => ch.replace(engineId, "other-engine"),
      });
      pages.push(p);
      // Centrifugo ends the connection: 3500 "invalid token", and the client does not retry.
      assert.deepEqual(p.disconnects, [{ code: 3500, reason: "invalid token" }]);
      assert.equal(p.subs.ctl!.state, "subscribing"); // never subscribed
      // No token at all: permission denied (103), the connection stays.
      const q = await connectPage({
        url: cf.url,
        tokenSecret: cf.tokenSecret,
        user: "eve",
        engine: engineId,
        kinds: ["ctl"],
        noToken: ["ctl"],
      });
      pages.push(q);
      assert.deepEqual(q.refusals.map((r) => r.code), [103], JSON.stringify(q.refusals));
      // And the API refuses a wrong key.
      const bad = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: "wrong" });
      await assert.rejects(
        bad.publish(channelOf("state", engineId), { v: 1 }),
        (e) => e instanceof CentrifugoApiError && e.kind === "http" && e.status === 401,
      );
      bad.close();
    });

    await t.step("a Centrifugo restart is survived: state republished unasked", async () => {
      await mirror.write("Color.Shapes.Hue", 0.625);
      const t0 = performance.now();
      await cf.restart(); // memory engine: history and connections are gone
      await waitFor(
        () => relay.stats().ctl.state === "subscribed" && relay.stats().ctl.subscribes >= 2,
        "relay resubscribed",
        15000,
      );
      const p = await page("carol"); // nobody asks for anything
      const s = await p.nextState(
        (m: StateMsg) => m.snapshot?.values["Color.Shapes.Hue"] === 0.625,
        "the state after the restart",
        10000,
      );
      assert.equal(s.snapshot!.rev, mirror.rev);
      console.log(
        `Centrifugo restart → state there again: ${(performance.now() - t0).toFixed(0)} ms`,
      );
      await p.publish({ v: 1, type: "set", id: 1, path: "Color.Shapes.Hue", value: 0.125 });
      await p.nextParams((m) => m.type === "ack" && m.id === 1, "ack after the restart");
    });

    await t.step("the sources on offer change: the state follows within a tick", async () => {
      const p = pages[0];
      SOURCES.push({ id: "aux", label: "Aux", width: 640, height: 480, fps: 30 });
      await p.nextState((m) => m.sources.some((s) => s.id === "aux"), "state with aux", 3000);
    });

    await t.step("engine gone: state says offline, a write gets engine_offline", async () => {
      const p = pages.at(-1)!;
      await engine.kill();
      const s = await p.nextState((m) => m.link.state === "offline", "offline state", 10000);
      assert.equal(s.snapshot, null);
      await p.nextParams((m) => m.type === "link" && m.state === "offline", "offline link");
      await p.publish({ v: 1, type: "set", id: 2, path: "Color.Shapes.Hue", value: 0.5 });
      await p.nextParams(
        (m) =>
          m.type === "error" && m.id === 2 && m.code === "engine_offline" && m.to === p.clientId,
        "engine_offline",
      );
      const st = relay.stats();
      console.log(
        `relay stats: ${
          JSON.stringify({ publish: st.publish, state: st.state, remote: st.remote })
        }`,
      );
    });
  } finally {
    for (const p of pages) p.close();
    await relay.stop();
    await mirror.stop();
    await cf.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
    if (logs.some((l) => l.includes("failed:"))) console.log(logs.join("\n"));
  }
});

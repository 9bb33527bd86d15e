/**
 * The limits on one `/ws/params` client that protect smx from it: a sustained flood is closed
 * (and does not get a flood of replies), a client that never reads is disconnected with bounded
 * memory (snapshots coalesced, a hard cap on its send buffer), oversize messages are refused and
 * closed, and every reply is valid JSON whatever numbers the client or the engine send.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import type { ParamClientHandle } from "../server/params/serve_param_client.ts";
import { type DemoProc, startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { startParamServer } from "./support/param_server.ts";
import { RawWs, textFrame } from "./support/raw_ws.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let shared: { engine: DemoProc; mirror: ParamMirror; dir: string } | null = null;

/** One demo engine and mirror for the whole file (each test brings its own smx). */
async function engineMirror() {
  if (shared) return shared;
  const dir = Deno.makeTempDirSync({ prefix: "smx-limits-" });
  const engine = await startDemoEngine({ name: `limits-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  await mirror.whenConnected(10000);
  return shared = { engine, mirror, dir };
}

async function stopShared() {
  if (!shared) return;
  await shared.mirror.stop();
  await shared.engine.kill();
  Deno.removeSync(shared.dir, { recursive: true });
  shared = null;
}

const portOf = (url: string) => Number(new URL(url).port);

async function lastClient(clients: ParamClientHandle[]): Promise<ParamClientHandle> {
  await waitFor(() => clients.length > 0, "the server side of the client");
  return clients[clients.length - 1];
}

/** A Deno WebSocket client keeping every message's raw text (to check it is valid JSON). */
async function textSocket(url: string) {
  const ws = new WebSocket(url);
  const texts: string[] = [];
  ws.onmessage = (e) => texts.push(e.data);
  const closed = new Promise<number>((r) => ws.onclose = (e) => r(e.code));
  await new Promise((res, rej) => (ws.onopen = res, ws.onerror = rej));
  return { ws, texts, closed };
}

Deno.test("limits: a client over the rate for ~2 s is closed 1008 and gets one error per second, not one per message", async () => {
  const { mirror } = await engineMirror();
  // A small burst so refusals start soon; 1.5 × the rate is never a burst-sized pile of refusals
  // in one second, but it is over the limit all the time.
  const smx = startParamServer(mirror, { ratePerSecond: 200, burst: 50 });
  try {
    const c = await textSocket(smx.url);
    const h = await lastClient(smx.clients);
    const t0 = Date.now();
    let sent = 0;
    while (h.closedWith === null && Date.now() - t0 < 6000) {
      for (let i = 0; i < 3 && c.ws.readyState === WebSocket.OPEN; i++) {
        c.ws.send(JSON.stringify({ v: 1, type: "ping", t: ++sent }));
      }
      await sleep(10);
    }
    const took = Date.now() - t0;
    assert.equal(h.closedWith?.code, 1008, `closed after ${took} ms with ${h.closedWith?.code}`);
    assert.match(h.closedWith!.reason, /rate limit/);
    assert.ok(took < 5000, `closed within the flood window, took ${took} ms`);
    await c.closed;
    const refusals = c.texts.filter((t) => JSON.parse(t).code === "rate_limited").length;
    assert.ok(h.stats.rateLimited > 100, `${h.stats.rateLimited} messages were refused`);
    assert.ok(refusals >= 1 && refusals <= Math.ceil(took / 1000) + 1, `${refusals} error replies`);
  } finally {
    await smx.close();
  }
});

Deno.test("limits: a client that only sends sync and never reads keeps smx's buffer bounded and is disconnected 4008", async () => {
  const { mirror } = await engineMirror();
  const soft = 64 << 10;
  const smx = startParamServer(mirror, { maxBufferedBytes: soft, stallCloseMs: 1500 });
  const snapshotBytes = JSON.stringify(mirror.snapshot()).length;
  const raw = await RawWs.connect(portOf(smx.url), "/ws/params");
  try {
    const h = await lastClient(smx.clients);
    let peak = 0;
    const sampler = setInterval(() => peak = Math.max(peak, h.bufferedAmount), 2);
    const rss0 = Deno.memoryUsage().rss;
    const sync = textFrame('{"v":1,"type":"sync"}');
    const batch = new Uint8Array(sync.length * 4);
    for (let i = 0; i < 4; i++) batch.set(sync, i * sync.length);
    let syncs = 0;
    const t0 = Date.now();
    // ~400 syncs/s, under the rate limit: only the slowness rules may end this client.
    while (h.closedWith === null && Date.now() - t0 < 8000) {
      await raw.send(batch);
      syncs += 4;
      await sleep(10);
    }
    clearInterval(sampler);
    const rssGrowth = Deno.memoryUsage().rss - rss0;
    assert.equal(h.closedWith?.code, 4008, `closed with ${JSON.stringify(h.closedWith)}`);
    assert.match(h.closedWith!.reason, /too slow/);
    assert.ok(
      peak <= soft + 2 * snapshotBytes,
      `send buffer peaked at ${peak} bytes (bound ${soft} + snapshots of ${snapshotBytes})`,
    );
    assert.ok(h.stats.snapshotsSent < syncs / 4, `${h.stats.snapshotsSent} snapshots for ${syncs}`);
    assert.ok(rssGrowth < 64 << 20, `RSS grew ${rssGrowth >> 20} MiB`);
    // Once it reads, it finds the queued snapshots and then the close frame saying why.
    const { close } = await raw.readUntilClose(10000);
    assert.equal(close?.code, 4008);
    assert.match(close!.reason, /too slow/);
  } finally {
    raw.close();
    await smx.close();
  }
});

Deno.test("limits: a client whose send buffer passes the hard cap is disconnected 4008 at once", async () => {
  const { mirror } = await engineMirror();
  const hard = 256 << 10;
  const smx = startParamServer(mirror, {
    ratePerSecond: 1e6,
    burst: 1e6,
    maxBufferedHardBytes: hard,
  });
  const raw = await RawWs.connect(portOf(smx.url), "/ws/params");
  try {
    const h = await lastClient(smx.clients);
    let peak = 0;
    const sampler = setInterval(() => peak = Math.max(peak, h.bufferedAmount), 2);
    // Pings, never reading the pongs: kernel buffers take the first few MB, then smx's grows.
    const ping = textFrame('{"v":1,"type":"ping","t":1}');
    const batch = new Uint8Array(ping.length * 2000);
    for (let i = 0; i < 2000; i++) batch.set(ping, i * ping.length);
    const t0 = Date.now();
    while (h.closedWith === null && Date.now() - t0 < 15000) {
      await raw.send(batch);
      await sleep(1);
    }
    clearInterval(sampler);
    assert.equal(h.closedWith?.code, 4008, `closed with ${JSON.stringify(h.closedWith)}`);
    assert.match(h.closedWith!.reason, new RegExp(`send buffer over ${hard} bytes`));
    assert.ok(peak <= hard + 4096, `send buffer peaked at ${peak} bytes`);
  } finally {
    raw.close();
    await smx.close();
  }
});

Deno.test("limits: a message just over 1 MiB is refused too_large and the socket closed 1009", async () => {
  const { mirror } = await engineMirror();
  const smx = startParamServer(mirror);
  const raw = await RawWs.connect(portOf(smx.url), "/ws/params");
  try {
    const value = "x".repeat((1 << 20) + 1);
    await raw.sendText(JSON.stringify({ v: 1, type: "set", id: 1, path: "A.b", value }));
    const { frames, close } = await raw.readUntilClose();
    const texts = frames.map((f) => JSON.parse(new TextDecoder().decode(f.payload)));
    assert.ok(texts.some((m) => m.type === "error" && m.code === "too_large"), "too_large error");
    assert.equal(close?.code, 1009);
  } finally {
    raw.close();
    await smx.close();
  }
});

Deno.test("limits: a ping whose t is not a finite number is refused; every reply is valid JSON", async () => {
  const { mirror, engine } = await engineMirror();
  const smx = startParamServer(mirror);
  try {
    const hub = `ws://127.0.0.1:${engine.port}/ws/hub?token=${engine.token}`;
    for (const url of [smx.url, hub]) {
      const c = await textSocket(url);
      c.ws.send('{"v":1,"type":"ping","t":1e400}');
      c.ws.send('{"v":1,"type":"ping","t":-1e999}');
      c.ws.send('{"v":1,"type":"ping","t":7}');
      await waitFor(() => c.texts.some((t) => t.includes('"pong"')), `pong from ${url}`);
      const msgs = c.texts.map((t) => JSON.parse(t)); // throws on `"t":Infinity`
      const refused = msgs.filter((m) => m.type === "error" && m.code === "bad_message");
      assert.equal(refused.length, 2, JSON.stringify(msgs.filter((m) => m.type !== "snapshot")));
      assert.match(refused[0].message, /finite/);
      assert.deepEqual(msgs.filter((m) => m.type === "pong").map((m) => m.t), [7]);
      c.ws.close();
      await c.closed;
    }
  } finally {
    await smx.close();
  }
});

Deno.test("limits: an ack is valid JSON even when the engine's rev is not a finite number", async () => {
  // A hub that acknowledges with rev 1e400 (JSON.parse → Infinity) must not make smx emit
  // `"rev":Infinity` to browsers.
  const fakeMirror = {
    state: "connected",
    link: { v: 1, type: "link", state: "connected", engine: null },
    snapshot: () => null,
    subscribe: () => () => {},
    write: () => Promise.resolve({ rev: JSON.parse("1e400") }),
  } as unknown as ParamMirror;
  const smx = startParamServer(fakeMirror);
  try {
    const c = await textSocket(smx.url);
    c.ws.send(JSON.stringify({ v: 1, type: "set", id: 3, path: "A.b", value: 1 }));
    await waitFor(() => c.texts.some((t) => t.includes('"ack"')), "ack");
    const ack = JSON.parse(c.texts.find((t) => t.includes('"ack"'))!);
    assert.equal(ack.id, 3);
    c.ws.close();
    await c.closed;
  } finally {
    await smx.close();
  }
});

Deno.test("limits: cleanup", async () => {
  await stopShared();
});

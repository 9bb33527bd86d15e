/**
 * PairingChannels against real (hub-only) demo engines through a real ParamMirror: the Smx.Pairing.*
 * channels are written once each, then only what changed; a burst of changes is coalesced; an
 * engine that does not declare them is never written to (and one that declares one wrongly gets
 * the rest); a restarted engine gets them back within a second; a value someone else overwrote
 * is put back; close() hides the QR. The QR drawn from them: tests/demo_qr_test.ts.
 */
import assert from "node:assert/strict";
import { discoverEngines, selectEngine } from "../server/engine/discovery.ts";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import {
  isSmxChannel,
  MAX_QR_SIZE,
  PAIRING_CHANNELS,
  PairingChannels,
  type PairingState,
  parseQrChannel,
  qrChannelValue,
} from "../server/engine/pairing_channels.ts";
import { ParamClient } from "../protocol/params_client.ts";
import type { ParamValue } from "../protocol/params.ts";
import { DEFAULT_SPEC } from "../demo/main.ts";
import { type DemoProc, engineDebug, startDemoEngine, waitFor } from "./support/demo_engine.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hubUrl = (e: DemoProc) => `ws://127.0.0.1:${e.port}/ws/hub?token=${e.token}`;
const { url: URL_P, qr: QR_P, code: CODE_P, show: SHOW_P } = PAIRING_CHANNELS;

/** A 21×21 stand-in matrix (the real one comes from protocol/qr.ts qrMatrix). */
function matrix(seed: number) {
  let modules = "";
  for (let i = 0; i < 21 * 21; i++) modules += (i * 7 + seed) % 5 < 2 ? "1" : "0";
  return { size: 21, modules };
}

const STATE: PairingState = {
  url: "http://192.168.1.20:47900/pair#" + "x".repeat(43),
  qr: matrix(1),
  code: "482913",
  show: true,
};

/** Engine, mirror (following the engine by name across restarts) and an observer on the hub. */
async function setup(o: { specPath?: string } = {}) {
  const dir = Deno.makeTempDirSync({ prefix: "smx-pairing-" });
  const name = `pairing-${uniq()}`;
  const engine = await startDemoEngine({ name, portDir: dir, specPath: o.specPath });
  const mirror = new ParamMirror({
    engine: async () => {
      const r = await discoverEngines({ portDir: dir, probePorts: false });
      return selectEngine(r.engines, name) ?? null;
    },
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  }).start();
  const observer = new ParamClient(hubUrl(engine));
  await Promise.all([mirror.whenConnected(10000), observer.ready]);
  return { dir, name, engine, mirror, observer };
}

/** Waits until the engine's hub (seen by `observer`) holds `want` for every given channel. */
async function hubHolds(observer: ParamClient, want: Record<string, ParamValue>, timeoutMs = 5000) {
  await waitFor(
    () => Object.entries(want).every(([p, v]) => observer.store.get(p) === v),
    `hub holds ${JSON.stringify(want).slice(0, 120)}`,
    timeoutMs,
  );
}

const expected = (s: PairingState) => ({
  [URL_P]: s.url,
  [QR_P]: s.qr.modules,
  [CODE_P]: s.code,
  [SHOW_P]: s.show,
});

Deno.test("pairing channels: written once each, then only changes; bursts coalesced; null clears and hides; close() hides", async () => {
  const { dir, engine, mirror, observer } = await setup();
  const logs: string[] = [];
  const pairing = new PairingChannels(mirror, { log: (_l, m) => logs.push(m) });
  try {
    assert.equal(mirror.meta(QR_P)?.hidden, true, "the demo declares them hidden");
    pairing.publish(STATE);
    await hubHolds(observer, expected(STATE));
    assert.equal(pairing.writes, 4);

    pairing.publish({ ...STATE });
    await sleep(200);
    assert.equal(pairing.writes, 4, "the same state again writes nothing");

    pairing.publish({ ...STATE, show: false }); // a LAN client connected
    await hubHolds(observer, { [SHOW_P]: false });
    assert.equal(pairing.writes, 5, "only Show changed");

    // A flapping client count and a new code, 300 changes in one go: the last state, few writes.
    for (let i = 0; i < 300; i++) {
      pairing.publish({ ...STATE, code: String(100000 + i), show: i % 2 === 1 });
    }
    const last = { ...STATE, code: "100299", show: true };
    await hubHolds(observer, expected(last));
    await sleep(200);
    console.log(`300 changes in one go: ${pairing.writes - 5} writes`);
    assert.ok(pairing.writes <= 5 + 4, `coalesced: ${pairing.writes - 5} writes for 300 changes`);

    pairing.publish(null); // LAN off
    await hubHolds(observer, { [URL_P]: "", [QR_P]: "", [CODE_P]: "", [SHOW_P]: false });

    pairing.publish(STATE);
    await hubHolds(observer, expected(STATE));
    await pairing.close();
    assert.equal(observer.store.get(SHOW_P), false, "close() hid the QR before returning");
    pairing.publish({ ...STATE, code: "1" }); // ignored after close
    await sleep(150);
    assert.equal(observer.store.get(CODE_P), STATE.code);
    assert.deepEqual(logs, []);
  } finally {
    await pairing.close();
    observer.close();
    await mirror.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pairing channels: an engine without them is never written to; a wrongly typed one is skipped, the rest written", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-pairing-spec-" });
  const spec = Deno.readTextFileSync(DEFAULT_SPEC).split("\n");
  const without = `${dir}/without.csv`, odd = `${dir}/odd.csv`;
  Deno.writeTextFileSync(without, spec.filter((l) => !l.startsWith("Smx.")).join("\n"));
  // No Url row, Code declared as an int.
  Deno.writeTextFileSync(
    odd,
    spec.filter((l) => !l.startsWith(URL_P + ","))
      .map((l) => l.startsWith(CODE_P + ",") ? `${CODE_P},int,Code,Pairing,Smx,0,999999,1,0` : l)
      .join("\n"),
  );

  // 1. Not declared at all.
  let s = await setup({ specPath: without });
  let pairing = new PairingChannels(s.mirror);
  try {
    assert.equal(s.mirror.meta(SHOW_P), undefined);
    pairing.publish(STATE);
    await sleep(300);
    assert.equal(pairing.writes, 0);
    const stats = await engineDebug(s.engine, "/debug/stats") as { setsReceived: number };
    assert.equal(stats.setsReceived, 0, "the engine received no write");
  } finally {
    await pairing.close();
    s.observer.close();
    await s.mirror.stop();
    await s.engine.kill();
  }

  // 2. Partly and wrongly declared.
  s = await setup({ specPath: odd });
  const logs: string[] = [];
  pairing = new PairingChannels(s.mirror, { log: (_l, m) => logs.push(m) });
  try {
    pairing.publish(STATE);
    await hubHolds(s.observer, { [QR_P]: STATE.qr.modules, [SHOW_P]: true });
    await sleep(300);
    assert.equal(s.observer.store.get(CODE_P), 0, "the int channel is left alone");
    assert.equal(pairing.writes, 3, "Qr, Show and one refused Code (refused in smx, not retried)");
    assert.equal(logs.length, 1);
    assert.match(logs[0], /Smx\.Pairing\.Code not written: wrong_type/);
    const stats = await engineDebug(s.engine, "/debug/stats") as { setsReceived: number };
    assert.equal(stats.setsReceived, 2, "the refused value never reached the engine");
  } finally {
    await pairing.close();
    s.observer.close();
    await s.mirror.stop();
    await s.engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pairing channels: back within a second of an engine restart; a foreign overwrite is put back after reassertMs", async () => {
  let { dir, name, engine, mirror, observer } = await setup();
  const pairing = new PairingChannels(mirror, { reassertMs: 300 });
  try {
    pairing.publish(STATE);
    await hubHolds(observer, expected(STATE));

    // Someone else hides the QR: it comes back after reassertMs, with one write.
    const before = pairing.writes;
    const t0 = performance.now();
    await observer.set(SHOW_P, false);
    await hubHolds(observer, { [SHOW_P]: true });
    const back = performance.now() - t0;
    assert.ok(back >= 250, `not at once (${back.toFixed(0)} ms)`);
    assert.equal(pairing.writes, before + 1);

    // The engine crashes and a new one starts: its defaults are replaced within a second.
    observer.close();
    await engine.kill("SIGKILL");
    engine = await startDemoEngine({ name, portDir: dir });
    const t1 = performance.now();
    observer = new ParamClient(hubUrl(engine));
    await observer.ready;
    await hubHolds(observer, expected(STATE), 3000);
    const ms = performance.now() - t1;
    console.log(`republished ${ms.toFixed(0)} ms after the restarted engine was ready`);
    assert.ok(ms < 1000, `within a second (${ms.toFixed(0)} ms)`);
    assert.equal(mirror.snapshot()?.instanceId, engine.instanceId);
  } finally {
    await pairing.close();
    observer.close();
    await mirror.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("pairing channels: QR values checked on the way out and read back strictly", () => {
  assert.equal(qrChannelValue(matrix(2)), matrix(2).modules);
  assert.throws(() => qrChannelValue({ size: 21, modules: "01" }), RangeError);
  assert.throws(() => qrChannelValue({ size: 2, modules: "0120" }), RangeError);
  assert.throws(() => qrChannelValue({ size: 65, modules: "0".repeat(65 * 65) }), RangeError);
  assert.equal(MAX_QR_SIZE, 64, "4096-char strings hold up to 64×64 (QR version 11 is 61×61)");
  assert.throws(
    () => new PairingChannels(fakeMirror()).publish({ ...STATE, qr: { size: 3, modules: "1" } }),
    RangeError,
  );

  const back = parseQrChannel("1001");
  assert.deepEqual(back, { size: 2, modules: new Uint8Array([1, 0, 0, 1]) });
  for (const bad of ["", "101", "10a1", 7, null, undefined, "0".repeat(4097)]) {
    assert.equal(parseQrChannel(bad), null, JSON.stringify(bad));
  }
  assert.equal(isSmxChannel(SHOW_P), true);
  assert.equal(isSmxChannel("Scene.Shapes.Count"), false);
});

function fakeMirror() {
  return {
    state: "offline" as const,
    get: () => undefined,
    meta: () => undefined,
    write: () => Promise.reject(new Error("offline")),
    subscribe: () => () => {},
  };
}

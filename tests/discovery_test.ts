/**
 * Engine discovery against real demo-engine processes: port files, stale files, explicit URLs,
 * the loopback probe, frame-sender listing, and the engine's token/Host/Origin checks.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  describeEngine,
  discoverEngines,
  EngineSelectError,
  selectEngine,
  usableEngines,
} from "../server/engine/discovery.ts";
import { writePortFile } from "../server/engine/port_files.ts";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import { EngineService } from "../server/engine/engine_service.ts";
import { type DemoProc, startDemoEngine, waitFor } from "./support/demo_engine.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

async function twoEngines(dir: string): Promise<[DemoProc, DemoProc]> {
  const [a, b] = await Promise.all([
    startDemoEngine({ name: `alpha-${uniq()}`, portDir: dir }),
    startDemoEngine({ name: `beta-${uniq()}`, portDir: dir }),
  ]);
  return [a, b];
}

/** A pid that certainly belongs to no running process: a child that already exited. */
async function deadPid(): Promise<number> {
  const c = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await c.status;
  return c.pid;
}

Deno.test("discovery: two engines by port file, selection by name and pid, stale file ignored", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const [a, b] = await twoEngines(dir);
  try {
    const stalePid = await deadPid();
    const stale = writePortFile(dir, {
      port: a.port, // even pointing at a live engine, a dead pid means a leftover file
      pid: stalePid,
      startedUtc: new Date().toISOString(),
      name: "ghost",
      token: "x",
    });
    // A live pid (ours) whose port answers nothing: must be skipped, but not deleted.
    const silent = writePortFile(dir, {
      port: 9, // discard port: nothing listens
      pid: Deno.pid,
      startedUtc: new Date().toISOString(),
      name: "silent",
      token: "y",
    });
    Deno.writeTextFileSync(join(dir, "engine.123.port"), "{not json");

    const { engines, problems } = await discoverEngines({ portDir: dir, probePorts: false });
    const names = engines.map((e) => e.name).sort();
    assert.deepEqual(names, [a.name, b.name].sort());
    assert.ok(engines.every((e) => e.via === "port-file" && e.token && e.reachable));
    assert.equal(engines.find((e) => e.name === a.name)!.token, a.token);
    assert.ok(
      problems.some((p) => p.includes(`pid ${stalePid} is not running`)),
      problems.join("\n"),
    );
    assert.ok(problems.some((p) => p.includes("engine.123.port")), "malformed file reported");
    assert.throws(() => Deno.statSync(stale), "stale file removed");
    Deno.statSync(silent); // kept: its process lives

    assert.equal(selectEngine(engines, b.name)?.instanceId, b.instanceId);
    assert.equal(selectEngine(engines, String(a.pid))?.instanceId, a.instanceId);
    assert.equal(selectEngine(engines, b.url)?.instanceId, b.instanceId);
    assert.equal(selectEngine(engines, "nobody"), undefined);

    // The mirror links to the engine the selector names, not merely the first one found.
    const mirror = new ParamMirror({
      engine: async () => {
        const r = await discoverEngines({ portDir: dir, probePorts: false });
        return selectEngine(r.engines, b.name) ?? null;
      },
    }).start();
    try {
      await mirror.whenConnected(10000);
      assert.equal(mirror.snapshot()?.instanceId, b.instanceId);
      assert.equal(mirror.link.engine?.name, b.name);
    } finally {
      await mirror.stop();
    }
  } finally {
    await Promise.all([a.kill(), b.kill()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("discovery: an explicit URL wins over port files, with or without its token", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const [a, b] = await twoEngines(dir);
  try {
    const r1 = await discoverEngines({
      portDir: dir,
      probePorts: false,
      explicit: `ws://127.0.0.1:${b.port}/ws/hub?token=${b.token}`,
    });
    assert.equal(r1.engines[0].via, "flag");
    assert.equal(r1.engines.length, 2, "the flagged engine is not listed twice");
    // Even when a selector names the other engine, the explicit URL wins.
    const chosen = selectEngine(r1.engines, a.name)!;
    assert.equal(chosen.instanceId, b.instanceId);
    assert.equal(chosen.token, b.token);

    // Without ?token= the port file of the engine on that port supplies it.
    const r2 = await discoverEngines({ portDir: dir, probePorts: false, explicit: a.url });
    assert.equal(r2.engines[0].instanceId, a.instanceId);
    assert.equal(r2.engines[0].token, a.token);

    // An explicit URL nobody answers is still the choice (the link reports it), not a fallback.
    const r3 = await discoverEngines({ portDir: dir, probePorts: false, explicit: "127.0.0.1:9" });
    const dead = selectEngine(r3.engines)!;
    assert.equal(dead.via, "flag");
    assert.equal(dead.reachable, false);
    assert.match(dead.problem ?? "", /did not answer/);
  } finally {
    await Promise.all([a.kill(), b.kill()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("discovery: loopback probe finds an engine without a port file; frame senders listed", async () => {
  const engineDir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const emptyDir = Deno.makeTempDirSync({ prefix: "smx-disc-empty-" });
  const a = await startDemoEngine({ name: `probe-${uniq()}`, portDir: engineDir });
  try {
    const { engines } = await discoverEngines({
      portDir: emptyDir,
      probePorts: [a.port, 9],
      listSenders: () => [{ name: "orphan-ring", width: 640, height: 360 }],
    });
    const probed = engines.find((e) => e.via === "probe")!;
    assert.equal(probed.instanceId, a.instanceId);
    assert.equal(probed.token, undefined, "a probe cannot know the token");
    const ring = engines.find((e) => e.via === "frame-ring")!;
    assert.deepEqual(ring.senders, ["orphan-ring"]);
    assert.equal(ring.url, "");
    // Listed with why, but never chosen by default: smx cannot link it without its token.
    assert.equal(probed.usable, false);
    assert.match(probed.why ?? "", /needs a token/);
    assert.equal(ring.usable, false);
    assert.equal(selectEngine(engines), undefined);
    assert.deepEqual(usableEngines(engines), [], "start-up treats this like no engine");
    // Named explicitly it is still the choice (the link then says it needs a token).
    assert.equal(selectEngine(engines, a.name)?.instanceId, a.instanceId);
  } finally {
    await a.kill();
    Deno.removeSync(engineDir, { recursive: true });
    Deno.removeSync(emptyDir, { recursive: true });
  }
});

Deno.test("engine: token, Host and Origin checks; port file lifecycle", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const a = await startDemoEngine({ name: `guard-${uniq()}`, portDir: dir });
  try {
    const info = JSON.parse(Deno.readTextFileSync(a.portFile!));
    assert.deepEqual(
      [info.port, info.pid, info.name, info.token],
      [a.port, a.pid, a.name, a.token],
    );
    assert.ok(!Number.isNaN(Date.parse(info.startedUtc)));
    assert.equal(Deno.statSync(a.portFile!).mode! & 0o777, 0o600);

    const pub = await (await fetch(`${a.url}/hello`)).json();
    assert.equal(pub.authRequired, true);
    assert.equal(pub.senders, undefined, "no details without the token");
    const full = await (await fetch(`${a.url}/hello?token=${a.token}`)).json();
    assert.equal(full.authRequired, false);
    assert.ok(full.channels.count >= 40);

    const noToken = await fetch(`${a.url}/ws/hub`, { headers: { upgrade: "websocket" } });
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const wrong = await fetch(`${a.url}/ws/hub?token=${a.token.replace(/.$/, "0")}x`);
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const origin = await fetch(`${a.url}/hello`, { headers: { origin: "https://evil.example" } });
    assert.equal(origin.status, 403);
    await origin.body?.cancel();
    // DNS rebinding: a foreign Host header on a loopback listener.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: a.port });
    await conn.write(new TextEncoder().encode(
      "GET /hello HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    ));
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    conn.close();
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1.1 421/);

    await a.kill("SIGTERM");
    assert.throws(() => Deno.statSync(a.portFile!), "port file removed on SIGTERM");
  } finally {
    await a.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("engine service: lists every engine without tokens, follows a choice made later", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const [a, b] = await twoEngines(dir);
  const svc = new EngineService({ portDir: dir, probePorts: false, select: a.name }).start();
  try {
    await svc.mirror.whenConnected(10000);
    assert.equal(svc.mirror.link.engine?.instanceId, a.instanceId);
    const list = svc.candidates();
    assert.deepEqual(list.map((c) => c.name).sort(), [a.name, b.name].sort());
    assert.ok(!JSON.stringify(list).includes(a.token), "no token in the public list");
    assert.equal(list.find((c) => c.selected)?.name, a.name);

    svc.choose(String(b.pid)); // the UI picks the other engine
    await waitFor(() => svc.mirror.link.engine?.instanceId === b.instanceId, "switch to b");
    assert.equal(svc.mirror.snapshot()?.instanceId, b.instanceId);
    await svc.mirror.write("Scene.Shapes.Count", 33);
    const direct = await fetch(`${b.url}/debug/stats?token=${b.token}`).then((r) => r.json());
    assert.equal(direct.setsApplied, 1, "the write went to the chosen engine");
  } finally {
    await svc.stop();
    await Promise.all([a.kill(), b.kill()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("discovery: another user's engine on the probe range never wins over a usable one", async () => {
  const ours = Deno.makeTempDirSync({ prefix: "smx-disc-ours-" });
  const theirs = Deno.makeTempDirSync({ prefix: "smx-disc-theirs-" });
  const mine = await startDemoEngine({ name: `mine-${uniq()}`, portDir: ours });
  // Started last (the newest), found by the probe only: its port file is in a folder we do not read.
  const other = await startDemoEngine({ name: `other-${uniq()}`, portDir: theirs });
  const probePorts = [other.port, mine.port];
  const svc = new EngineService({ portDir: ours, probePorts }).start();
  try {
    const { engines } = await discoverEngines({ portDir: ours, probePorts });
    assert.deepEqual(usableEngines(engines).map((e) => e.name), [mine.name]);
    assert.equal(selectEngine(engines)?.name, mine.name);
    await svc.mirror.whenConnected(10000);
    assert.equal(svc.mirror.link.engine?.instanceId, mine.instanceId);
    const listed = svc.candidates().find((c) => c.name === other.name);
    assert.equal(listed?.usable, false, "the unusable engine is still listed");
    assert.match(listed?.why ?? "", /needs a token/);
    assert.equal(svc.candidates().find((c) => c.name === mine.name)?.usable, true);
  } finally {
    await svc.stop();
    await Promise.all([mine.kill(), other.kill()]);
    Deno.removeSync(ours, { recursive: true });
    Deno.removeSync(theirs, { recursive: true });
  }
});

Deno.test("discovery: a selector naming two usable engines is an error listing both by pid and URL", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-disc-" });
  const name = `twin-${uniq()}`;
  const [a, b] = await Promise.all([
    startDemoEngine({ name, portDir: dir }),
    startDemoEngine({ name, portDir: dir }),
  ]);
  try {
    const { engines } = await discoverEngines({ portDir: dir, probePorts: false });
    assert.throws(() => selectEngine(engines, name), (e: EngineSelectError) => {
      assert.ok(e instanceof EngineSelectError);
      assert.equal(e.matches.length, 2);
      for (const x of [a, b]) {
        assert.ok(e.message.includes(`pid ${x.pid}`) && e.message.includes(x.url), e.message);
      }
      return true;
    });
    assert.equal(selectEngine(engines, String(b.pid))?.instanceId, b.instanceId, "pid picks one");
    // The lines `smx engines` prints tell them apart.
    const lines = engines.map(describeEngine);
    assert.notEqual(lines[0], lines[1]);
    assert.match(lines[0], /pid \d+\thttp:\/\/127\.0\.0\.1:\d+\tvia port-file\tusable/);
  } finally {
    await Promise.all([a.kill(), b.kill()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

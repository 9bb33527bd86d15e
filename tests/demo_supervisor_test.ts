/**
 * The demo engine smx starts is kept alive: killed, it comes back under the same name; crashing
 * fast again and again, it is given up on with a clear message; smx crashing leaves it running
 * (the next smx finds it by its port file); a clean stop() stops it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DemoSupervisor } from "../demo/supervisor.ts";
import { discoverEngines, usableEngines } from "../server/engine/discovery.ts";
import { waitFor } from "./support/demo_engine.ts";
import { ROOT } from "./support/processes.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

const alive = (pid: number) => {
  try {
    Deno.kill(pid, "SIGCONT"); // harmless probe: throws when the pid is gone
    return true;
  } catch {
    return false;
  }
};

Deno.test("supervisor: a demo engine killed with SIGKILL comes back (new pid, same name) within ~2 s", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-sup-" });
  const name = `sup-${uniq()}`;
  const logs: string[] = [];
  const sup = await DemoSupervisor.start({
    name,
    portDir: dir,
    port: 0,
    outputs: false,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
  try {
    const first = sup.demo!;
    assert.equal(sup.state, "running");
    Deno.kill(first.pid, "SIGKILL");
    const t0 = Date.now();
    await waitFor(() => sup.demo !== first && sup.state === "running", "a new demo engine", 5000);
    const took = Date.now() - t0;
    const second = sup.demo!;
    assert.notEqual(second.pid, first.pid);
    assert.equal(second.name, name);
    assert.ok(took < 2500, `back after ${took} ms`);
    assert.ok(
      logs.some((l) => l.includes(`pid ${first.pid}`) && /SIGKILL/.test(l)),
      `the exit is logged with its status:\n${logs.join("\n")}`,
    );
    // Discovery finds the new one by its port file (the dead one's is ignored and removed).
    const found = usableEngines(
      (await discoverEngines({ portDir: dir, probePorts: false })).engines,
    );
    assert.deepEqual(found.map((e) => e.pid), [second.pid]);
    assert.equal(sup.restarts, 1);

    await sup.stop();
    assert.equal(sup.state, "stopped");
    assert.ok(!alive(second.pid), "stop() stops the engine");
    assert.throws(() => Deno.statSync(second.portFile!), "and it removed its port file");
  } finally {
    await sup.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("supervisor: repeated fast crashes are given up on with a clear message", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-sup-" });
  // A spec that is there for the first start and gone after: every restart fails at once.
  const spec = join(dir, "spec.csv");
  Deno.copyFileSync(join(ROOT, "demo/spec/spacemusic-demo.csv"), spec);
  const logs: string[] = [];
  let gaveUp = "";
  const sup = await DemoSupervisor.start({
    name: `crashy-${uniq()}`,
    portDir: dir,
    port: 0,
    outputs: false,
    specPath: spec,
    backoffMs: 20,
    maxFastCrashes: 3,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
    onGiveUp: (why) => gaveUp = why,
  });
  try {
    Deno.removeSync(spec);
    Deno.kill(sup.demo!.pid, "SIGKILL");
    await waitFor(() => sup.state === "gave-up", "giving up", 30000);
    assert.equal(sup.demo, null);
    assert.match(gaveUp, /crashed 3 times/);
    assert.ok(
      logs.some((l) => l.startsWith("error: ") && /not restarting/.test(l)),
      logs.join("\n"),
    );
  } finally {
    await sup.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("supervisor: smx crashing leaves the demo engine running; its port file lets the next smx find it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-sup-" });
  const name = `orphan-${uniq()}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tests/fixtures/supervised_then_crash.ts"), dir, name],
    stdin: "null",
    signal: AbortSignal.timeout(30000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.notEqual(out.code, 0, "the stand-in smx crashed");
  const { pid, url } = JSON.parse(stdout.trim().split("\n").pop()!);
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(alive(pid), `the demo engine (pid ${pid}) outlived smx`);
    const hello = await (await fetch(`${url}/hello`)).json();
    assert.equal(hello.name, name);
    const found = usableEngines(
      (await discoverEngines({ portDir: dir, probePorts: false })).engines,
    );
    assert.deepEqual(found.map((e) => e.pid), [pid]);
  } finally {
    if (alive(pid)) Deno.kill(pid, "SIGTERM");
    await waitFor(() => !alive(pid), "the orphan to stop", 5000).catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});

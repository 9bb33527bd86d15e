/**
 * Descriptor exhaustion must not kill smx. Servers run in their own process under a lowered
 * open-files limit (`prlimit`); the clients live here, where the limit is far higher:
 * - smx with its demo engine at a soft limit of 256: past the connection ceiling WebSockets are
 *   closed with 1013 and requests get 503, earlier sockets keep their answers, the refusals are
 *   logged a few lines at a time, and smx and the demo engine are alive after the flood;
 * - listen() with no ceiling at a limit of 64, so that accept() itself fails with EMFILE: the
 *   server listens again instead of exiting, and earlier sockets keep working.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ReadyProcess, spawnUntilReady } from "../demo/ready_process.ts";
import { ROOT, tempEngineDir } from "./support/processes.ts";
import { waitFor } from "./support/demo_engine.ts";
import { FD_RESERVE } from "../server/http/connection_limit.ts";

const FIXTURE = join(ROOT, "tests", "fixtures", "fd_limit_server.ts");

function underLimit(
  limit: number,
  args: string[],
  env?: Record<string, string>,
): Promise<ReadyProcess> {
  return spawnUntilReady(
    "prlimit",
    [`--nofile=${limit}:${limit}`, Deno.execPath(), "run", "-A", ...args],
    { env, ready: /listening on (http:\/\/[^\s/]+:\d+)/, timeoutMs: 20000, what: "server" },
  );
}

type Outcome = { kind: "served" | "refused" | "failed"; detail: string };

interface Client {
  ws: WebSocket;
  messages: string[];
  /** The first message (served), a close 1013 (refused) or any other close (failed). */
  outcome: Promise<Outcome>;
  closed: Promise<void>;
}

function connect(url: string): Client {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  const outcome = Promise.withResolvers<Outcome>();
  const closed = Promise.withResolvers<void>();
  ws.onmessage = (e) => {
    messages.push(String(e.data));
    outcome.resolve({ kind: "served", detail: String(e.data) });
  };
  ws.onclose = (e) => {
    outcome.resolve({
      kind: e.code === 1013 ? "refused" : "failed",
      detail: `${e.code} ${e.reason}`,
    });
    closed.resolve();
  };
  ws.onerror = () => {};
  return { ws, messages, outcome: outcome.promise, closed: closed.promise };
}

async function kinds(clients: Client[]): Promise<Record<Outcome["kind"], Outcome[]>> {
  const all = await Promise.all(clients.map((c) => c.outcome));
  return {
    served: all.filter((o) => o.kind === "served"),
    refused: all.filter((o) => o.kind === "refused"),
    failed: all.filter((o) => o.kind === "failed"),
  };
}

async function closeAll(clients: Client[]) {
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => c.closed));
}

/** Resolves once a message matching `pred` arrived (counting those already received). */
async function answered(c: Client, pred: (m: string) => boolean, what: string) {
  await waitFor(() => c.messages.some(pred), what, 5000);
}

const isPong = (t: number) => (m: string) => {
  const msg = JSON.parse(m);
  return msg.type === "pong" && msg.t === t;
};

async function status(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

async function stillRunning(p: ReadyProcess): Promise<boolean> {
  const exited = p.child.status.then(() => true);
  return !(await Promise.race([exited, new Promise<false>((r) => setTimeout(r, 50, false))]));
}

Deno.test({
  name:
    "smx at a 256 open-files limit refuses past its ceiling; earlier clients, smx and its demo engine live on",
  async fn() {
    const limit = 256, ceiling = limit - FD_RESERVE;
    const dir = tempEngineDir();
    const smx = await underLimit(limit, [join(ROOT, "main.ts"), "start", "--port", "0"], {
      SMX_ENGINE_DIR: dir,
      SMX_ENCODERS: "libx264",
    });
    const clients: Client[] = [];
    let demoPid = 0;
    try {
      const demo = /demo engine "[^"]*" \(pid (\d+)\) on (http:\/\/\S+)/.exec(smx.output());
      assert.ok(
        demo,
        `smx started no demo engine (another engine on 47800..47809?):\n${smx.output()}`,
      );
      demoPid = Number(demo[1]);
      const base = smx.match[1];
      const params = `${base.replace(/^http/, "ws")}/ws/params`;

      const early = Array.from({ length: 5 }, () => connect(params));
      clients.push(...early);
      assert.equal((await kinds(early)).served.length, 5);

      // In batches, as pages would open: the ceiling, not accept(), is what refuses them.
      const flood: Client[] = [];
      for (let i = 0; i < 300; i += 25) {
        const batch = Array.from({ length: 25 }, () => connect(params));
        flood.push(...batch);
        clients.push(...batch);
        await Promise.all(batch.map((c) => c.outcome));
      }
      const k = await kinds(flood);
      assert.deepEqual(k.failed, [], "no client is dropped without a reason");
      assert.equal(k.served.length, ceiling - early.length);
      assert.equal(k.refused.length, 300 - k.served.length);
      assert.equal(
        k.refused[0].detail,
        `1013 smx is at its connection limit (${ceiling}); try again later`,
      );

      const busy = await fetch(`${base}/hello`);
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get("retry-after"), "5");
      assert.match(await busy.text(), /connection limit/);

      for (const [i, c] of early.entries()) {
        c.ws.send(JSON.stringify({ v: 1, type: "ping", t: i + 1 }));
        await answered(c, isPong(i + 1), `pong ${i + 1} on an early socket`);
      }

      await closeAll(flood);
      await waitFor(async () => (await status(`${base}/hello`)) === 200, "/hello after the flood");
      const late = connect(params);
      clients.push(late);
      assert.equal((await late.outcome).kind, "served");
      assert.equal(await status(`${demo[2]}/hello`), 200, "the demo engine answers");
      assert.ok(await stillRunning(smx), "smx is running");
      assert.ok(
        (smx.output().match(/refused GET/g) ?? []).length <= 5,
        `refusals are logged a few lines at a time:\n${smx.output()}`,
      );

      await closeAll(clients);
      await smx.stop();
      assert.match(smx.output(), /\d+ more refused \(busy\) in the last \d+ s/);
      // Under 4096 the limit is said as a warning at start-up (issue 11, seed 002's crash).
      assert.match(smx.output(), /open files: the hard limit \d+ caps smx at about \d+ clients/);
    } finally {
      await closeAll(clients);
      await smx.stop("SIGKILL");
      try {
        if (demoPid) Deno.kill(demoPid, "SIGTERM"); // only if smx did not stop it
      } catch { /* gone, as it should be */ }
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("when accept() runs out of descriptors, the server listens again instead of exiting", async () => {
  const server = await underLimit(64, [FIXTURE, "none"]);
  const clients: Client[] = [];
  try {
    const base = server.match[1];
    const url = `${base.replace(/^http/, "ws")}/ws`;
    const early = connect(url);
    clients.push(early);
    assert.equal((await early.outcome).kind, "served");

    const flood = Array.from({ length: 100 }, () => connect(url));
    clients.push(...flood);
    const k = await kinds(flood);
    assert.ok(k.failed.length > 0, "the limit was reached");
    assert.ok(k.served.length > 0);

    early.ws.send("ping");
    await answered(early, (m) => m === "echo ping", "an echo on the early socket");
    await closeAll(flood);
    await waitFor(async () => (await status(`${base}/hello`)) === 200, "listening again");
    const stats = await (await fetch(`${base}/stats`)).json();
    assert.ok(stats.listenerRestarts >= 1, JSON.stringify(stats));
    assert.match(server.output(), /stopped accepting connections: .*Too many open files/);
    assert.ok(await stillRunning(server), "the server process is running");
  } finally {
    await closeAll(clients);
    await server.stop();
  }
});

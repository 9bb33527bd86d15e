/**
 * Parameter path benchmark (`deno task bench:params`).
 *
 * 1. Write round trip: a client on smx's /ws/params writes a channel and waits for the ack,
 *    10,000 times in sequence: client → smx (validate, forward) → demo engine (apply, echo,
 *    ack) → smx (mirror, relay) → client. Prints median and p99.
 * 2. Mirror throughput: the demo engine changes its own channels as fast as asked; we count the
 *    changes the mirror applies per second (and how many the relayed client received).
 *
 * The demo engine is a separate process (hub only, no rendering); smx's side and the client run
 * here. Ends with one JSON line for CI.
 */
import { parseArgs } from "node:util";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import { ParamClient } from "../protocol/params_client.ts";
import { engineDebug, startDemoEngine } from "../tests/support/demo_engine.ts";
import { startParamServer } from "../tests/support/param_server.ts";

const { values: f } = parseArgs({
  args: Deno.args,
  options: {
    writes: { type: "string", default: "10000" },
    seconds: { type: "string", default: "3" },
    rate: { type: "string", default: "300000" },
  },
});
const WRITES = Number(f.writes);
const SECONDS = Number(f.seconds);

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];

const dir = Deno.makeTempDirSync({ prefix: "smx-bench-params-" });
const engine = await startDemoEngine({ name: "bench-params", portDir: dir, ambient: false });
const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
// The benchmark client is one fast client; lift the per-client limit so it measures the path.
const smx = startParamServer(mirror, { ratePerSecond: 1e6, burst: 1e6 });
try {
  await mirror.whenConnected(10000);
  const client = new ParamClient(smx.url);
  await client.ready;

  // ---- 1. write round trip
  const path = "Color.Shapes.Hue";
  const warm = 500;
  const rtt: number[] = [];
  for (let i = 0; i < WRITES + warm; i++) {
    const t0 = performance.now();
    await client.set(path, (i % 1000) / 1000);
    if (i >= warm) rtt.push(performance.now() - t0);
  }
  rtt.sort((a, b) => a - b);
  const p50 = pct(rtt, 50), p99 = pct(rtt, 99);
  console.log(
    `write round trip over ${WRITES} writes: p50 ${p50.toFixed(3)} ms, p90 ${
      pct(rtt, 90).toFixed(3)
    } ms, p99 ${p99.toFixed(3)} ms, max ${rtt[rtt.length - 1].toFixed(3)} ms`,
  );
  if (client.store.get(path) !== mirror.get(path)) throw new Error("client and mirror disagree");

  // ---- 1b. pipelined writes (64 in flight), informational: a busy UI dragging many sliders
  {
    const n = WRITES * 2, window = 64;
    let next = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (next < n) await client.set(path, (next++ % 1000) / 1000);
    };
    await Promise.all(Array.from({ length: window }, lane));
    const s = (performance.now() - t0) / 1000;
    console.log(`pipelined writes (${window} in flight): ${Math.round(n / s)} acked writes/s`);
  }

  // ---- 2. mirror throughput under engine-side churn
  let mirrored = 0, relayed = 0, deltas = 0;
  const off = mirror.subscribe((e) => {
    if (e.type === "delta") (mirrored += e.msg.changes.length >> 1, deltas++);
  });
  client.subscribe((e) => void (e.type === "delta" && (relayed += e.msg.changes.length >> 1)));
  await engineDebug(engine, `/debug/churn?rate=${f.rate}`, "POST");
  await new Promise((r) => setTimeout(r, 300)); // settle
  const m0 = mirrored, r0 = relayed, d0 = deltas, t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const secs = (performance.now() - t0) / 1000;
  const updatesPerS = (mirrored - m0) / secs;
  const relayedPerS = (relayed - r0) / secs;
  await engineDebug(engine, "/debug/churn?rate=0", "POST");
  off();
  console.log(
    `mirror throughput: ${Math.round(updatesPerS)} updates/s in ${
      Math.round((deltas - d0) / secs)
    } deltas/s (engine asked for ${f.rate}/s); relayed to the client: ${Math.round(relayedPerS)}/s`,
  );
  client.close();
  console.log(JSON.stringify({
    write_rtt_p50_ms: Number(p50.toFixed(3)),
    write_rtt_p99_ms: Number(p99.toFixed(3)),
    updates_per_s: Math.round(updatesPerS),
  }));
} finally {
  await smx.close();
  await mirror.stop();
  await engine.kill();
  Deno.removeSync(dir, { recursive: true });
}

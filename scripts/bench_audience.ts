/**
 * `deno task bench:audience` (issue 11): N viewer connections (default 1,000) to the real pinned
 * Centrifugo with the project's config, from a separate load process (this script with --load,
 * one Deno process holding every client, its open-files limit raised), on loopback.
 *
 * The smx side runs in this process with smx's own code: the ReactionAggregator (per-viewer
 * limits, 250 ms batches to smx_aud) reading smx_react through its own connection as AudienceService
 * does, and state messages published to smx_state through CentrifugoApi as the relay does.
 *
 * Measured:
 *  - connect_all_s: from the load process's start until every client is connected and subscribed
 *    to smx_state and smx_aud (with tokens, as pages are).
 *  - state fan-out: a stamped smx_state publication (what an on-air switch sends: StateMsg with the
 *    venues) → received by every client; p50/p99 over all clients × messages. The venue switch
 *    itself (server/wan/venues) is not driven here: the switch reaches viewers as this state
 *    message, so its fan-out is this one (said in the output).
 *  - reaction fan-out: a batch from smx (stamped at publish) → every client; and end to end from a
 *    viewer's reaction to the batch at every client (includes up to one 250 ms batch interval).
 *  - bytes per viewer per second: WebSocket bytes received by all clients over a steady window
 *    (20 reactors at 2 reactions/s, a state refresh each second), divided by N and seconds.
 *  - RSS and CPU of Centrifugo, the smx side (this process) and the load process.
 * Last line: the JSON the issue asks for.
 *
 * Flags: --viewers N (default 1000), --seconds S steady window (default 10), --protobuf (the load
 * clients use Centrifugo's protobuf protocol: centrifuge/build/protobuf), --delta (smx_state
 * published with delta: true and read with fossil deltas; the namespace allows fossil).
 */
import { parseArgs } from "node:util";
import { Centrifuge } from "centrifuge";
import { audienceChannel, type ReactionBatch } from "../protocol/audience.ts";
import { engineUser } from "../protocol/wan.ts";
import { raiseOpenFilesLimit } from "../ffi/limits.ts";
import { signHs256 } from "../server/wan/jwt.ts";
import { CentrifugoApi } from "../server/wan/relay/centrifugo_api.ts";
import { ReactionAggregator } from "../server/wan/audience/reactions.ts";
import { startCentrifugo } from "../tests/support/centrifugo.ts";

const ENGINE = "bench";
const STATE = `smx_state:${ENGINE}`;
const AUD = audienceChannel("aud", ENGINE);
const REACT = audienceChannel("react", ENGINE);
const exp = () => Math.floor(Date.now() / 1000) + 3600;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    viewers: { type: "string", default: "1000" },
    seconds: { type: "string", default: "10" },
    load: { type: "boolean", default: false },
    protobuf: { type: "boolean", default: false },
    delta: { type: "boolean", default: false },
  },
});

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** RSS (MiB) and CPU seconds (user + system) of a process, from /proc. */
function usage(pid: number | string): { rssMiB: number; cpuS: number } | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    return { rssMiB: Math.round(rss), cpuS: ticks / 100 };
  } catch {
    return null;
  }
}

function findPid(needle: string): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(needle)) return Number(e.name);
    } catch { /* gone */ }
  }
  return null;
}

// ------------------------------------------------------------------------- the load process

async function load() {
  const files = raiseOpenFilesLimit();
  const n = Number(flags.viewers);
  const url = Deno.env.get("BENCH_URL")!;
  const secret = Deno.env.get("BENCH_SECRET")!;
  let bytes = 0;
  // Counts every byte the clients receive (text frames as UTF-8, binary as is).
  class CountingWS extends WebSocket {
    constructor(u: string | URL, p?: string | string[]) {
      super(u, p);
      this.addEventListener("message", (e) => {
        const d = e.data;
        bytes += typeof d === "string"
          ? new TextEncoder().encode(d).byteLength
          : d instanceof ArrayBuffer
          ? d.byteLength
          : (d as Blob).size;
      });
    }
  }
  const Impl = flags.protobuf
    ? (await import("centrifuge/build/protobuf")).Centrifuge as unknown as typeof Centrifuge
    : Centrifuge;
  const out = (o: unknown) => console.log(JSON.stringify(o));
  const stateDelays: number[] = [];
  const batchDelays: number[] = [];
  const reactDelays: number[] = [];
  const t0 = performance.now();
  let ready = 0;
  const clients: Centrifuge[] = [];
  const all = Array.from({ length: n }, (_, i) =>
    new Promise<void>((resolve) => {
      const user = `viewer-${i}`;
      const c = new Impl(url, {
        getToken: () => signHs256({ sub: user, exp: exp(), info: { name: user } }, secret),
        websocket: CountingWS,
        networkEventTarget: new EventTarget(),
        pageEventTarget: new EventTarget(),
        timeout: 30000,
      });
      clients.push(c);
      let subs = 0;
      for (const ch of [STATE, AUD]) {
        const s = c.newSubscription(ch, {
          getToken: () => signHs256({ sub: user, channel: ch, exp: exp() }, secret),
          ...(flags.delta && ch === STATE ? { delta: "fossil" as const } : {}),
        });
        s.on("subscribed", () => {
          if (++subs === 2) {
            ready++;
            resolve();
          }
        });
        s.on("publication", (ctx) => {
          const now = Date.now();
          // The protobuf protocol hands JSON data over as bytes.
          const raw = ctx.data instanceof Uint8Array
            ? JSON.parse(new TextDecoder().decode(ctx.data))
            : ctx.data;
          const d = raw as { ts?: number; reactedAt?: number } & Partial<ReactionBatch>;
          if (typeof d.ts !== "number") return;
          if (ch === STATE) stateDelays.push(now - d.ts);
          else {
            batchDelays.push(now - d.ts);
            if (typeof d.reactedAt === "number") reactDelays.push(now - d.reactedAt);
          }
        });
        s.subscribe();
      }
      c.connect();
    }));
  const progress = setInterval(() => out({ progress: ready }), 2000);
  await Promise.all(all);
  clearInterval(progress);
  out({ connected: (performance.now() - t0) / 1000, files: files.soft });
  // Commands from the parent on stdin, one per line.
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const cmd = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (cmd === "reset") {
        stateDelays.length = 0;
        batchDelays.length = 0;
        reactDelays.length = 0;
        bytes = 0;
        out({ reset: true });
      } else if (cmd === "report") {
        out({
          report: {
            bytes,
            state: { n: stateDelays.length, p50: pct(stateDelays, 50), p99: pct(stateDelays, 99) },
            batch: { n: batchDelays.length, p50: pct(batchDelays, 50), p99: pct(batchDelays, 99) },
            react: { n: reactDelays.length, p50: pct(reactDelays, 50), p99: pct(reactDelays, 99) },
          },
        });
      } else if (cmd === "quit") {
        for (const c of clients) c.disconnect();
        out({ bye: true });
        Deno.exit(0);
      }
    }
  }
}

// ------------------------------------------------------------------------- the smx side

async function main() {
  const files = raiseOpenFilesLimit(); // Centrifugo inherits it
  const n = Number(flags.viewers);
  const seconds = Number(flags.seconds);
  console.log(`open files: ${files.soft}; ${n} viewers; steady window ${seconds} s`);
  const cf = await startCentrifugo({ logLevel: "error" });
  const cfPid = findPid(cf.configPath);
  const api = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: cf.apiKey });
  let lastReactionAt = 0;
  const agg = new ReactionAggregator({
    publish: (b) =>
      api.call("publish", {
        channel: AUD,
        data: {
          ...b,
          ts: Date.now(),
          ...(b.n && Object.keys(b.n).length ? { reactedAt: lastReactionAt } : {}),
        },
      }).then(() => {}),
    viewers: () =>
      api.call<{ num_users: number }>("presence_stats", { channel: AUD }).then((r) => r.num_users),
  });
  // smx's reader of smx_react.
  const smx = new Centrifuge(cf.url, {
    getToken: () => signHs256({ sub: engineUser(ENGINE), exp: exp() }, cf.tokenSecret),
    websocket: WebSocket,
  });
  const rs = smx.newSubscription(REACT, {
    getToken: () =>
      signHs256({ sub: engineUser(ENGINE), channel: REACT, exp: exp() }, cf.tokenSecret),
  });
  rs.on("publication", (ctx) => {
    if (ctx.info) agg.receive(ctx.info.user, ctx.info.user, ctx.data);
  });
  rs.subscribe();
  smx.connect();

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--load",
      "--viewers",
      String(n),
      ...(flags.protobuf ? ["--protobuf"] : []),
      ...(flags.delta ? ["--delta"] : []),
    ],
    env: { BENCH_URL: cf.url, BENCH_SECRET: cf.tokenSecret },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const send = (s: string) => writer.write(new TextEncoder().encode(s + "\n"));
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const next = async (key: string, timeoutMs = 120000): Promise<Record<string, unknown>> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = pending.indexOf("\n");
      if (i >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        try {
          const o = JSON.parse(line);
          if (o.progress !== undefined) console.log(`  connected ${o.progress}/${n}`);
          if (key in o) return o;
        } catch {
          console.log(`  load: ${line}`);
        }
        continue;
      }
      if (Date.now() > end) throw new Error(`load process: no ${key} within ${timeoutMs} ms`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`load process ended before ${key}`);
      pending += value;
    }
  };
  const before = { cf: usage(cfPid ?? 0), smx: usage("self"), load: usage(child.pid) };
  const connected = await next("connected");
  const connectAllS = Number(connected.connected);
  console.log(`all ${n} connected and subscribed in ${connectAllS.toFixed(2)} s`);
  const afterConnect = { cf: usage(cfPid ?? 0), smx: usage("self"), load: usage(child.pid) };

  // Reactors: 20 viewers of their own (in this process) sending 2 reactions per second each.
  const reactors = Array.from({ length: 20 }, (_, i) => {
    const user = `reactor-${i}`;
    const c = new Centrifuge(cf.url, {
      getToken: () => signHs256({ sub: user, exp: exp() }, cf.tokenSecret),
      websocket: WebSocket,
    });
    c.connect();
    return c;
  });
  await Promise.all(
    reactors.map((c) =>
      new Promise((r) => c.state === "connected" ? r(0) : c.once("connected", r))
    ),
  );
  await new Promise((r) => setTimeout(r, 1500)); // a viewer count in place

  send("reset");
  await next("reset");
  const t0 = Date.now();
  const cpu0 = { cf: usage(cfPid ?? 0), smx: usage("self"), load: usage(child.pid) };
  const emojis = ["heart", "fire", "clap", "laugh", "wow", "party"];
  let k = 0;
  const timer = setInterval(() => {
    for (const c of reactors) {
      lastReactionAt = Date.now();
      c.publish(REACT, {
        r: emojis[k++ % emojis.length],
        ...(k % 10 === 0 ? { text: "שלום 👋🏽 é" } : {}),
      })
        .catch(() => {});
    }
  }, 500);
  // A state message each second, stamped (the relay's state refresh; an on-air switch sends one).
  // A full state like the relay's StateMsg (~3 KB: 100 parameter values and the venues), of which
  // one value changes between two publications; with --delta, Centrifugo's fossil delta.
  const values: Record<string, number> = {};
  for (let i = 0; i < 100; i++) values[`Scene.Group${i % 10}.Param${i}`] = i / 100;
  let seq = 0;
  const stateTimer = setInterval(() => {
    seq++;
    values[`Scene.Group${seq % 10}.Param${seq % 100}`] = Math.round(Math.random() * 1000) / 1000;
    api.call("publish", {
      channel: STATE,
      data: {
        type: "state",
        ts: Date.now(),
        venues: [{ id: "main", title: "Main", onAir: true }],
        snapshot: { rev: seq, values },
      },
      ...(flags.delta ? { delta: true } : {}),
    }).catch((e) => console.log(`state publish: ${e.message}`));
  }, 1000);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(timer);
  clearInterval(stateTimer);
  await new Promise((r) => setTimeout(r, 1000)); // the last batch lands
  const elapsed = (Date.now() - t0) / 1000;
  const cpu1 = { cf: usage(cfPid ?? 0), smx: usage("self"), load: usage(child.pid) };
  send("report");
  const rep = (await next("report")).report as {
    bytes: number;
    state: { n: number; p50: number; p99: number };
    batch: { n: number; p50: number; p99: number };
    react: { n: number; p50: number; p99: number };
  };
  send("quit");
  await next("bye").catch(() => {});
  const bytesPerViewerS = rep.bytes / n / elapsed;
  const cpuPct = (k2: "cf" | "smx" | "load") =>
    cpu0[k2] && cpu1[k2] ? Math.round(((cpu1[k2]!.cpuS - cpu0[k2]!.cpuS) / elapsed) * 100) : NaN;
  console.log(
    `state fan-out (stamped smx_state publication → every viewer; an on-air switch reaches viewers as this message): n=${rep.state.n} p50 ${rep.state.p50} ms p99 ${rep.state.p99} ms`,
  );
  console.log(
    `reaction batch fan-out (smx publishes → every viewer): n=${rep.batch.n} p50 ${rep.batch.p50} ms p99 ${rep.batch.p99} ms`,
  );
  console.log(
    `reaction end to end (last reaction sent → batch at every viewer, includes the 250 ms batching): p50 ${rep.react.p50} ms p99 ${rep.react.p99} ms`,
  );
  console.log(`aggregator: ${JSON.stringify(agg.stats)}`);
  console.log(
    `bytes per viewer per second: ${
      bytesPerViewerS.toFixed(1)
    } (${rep.bytes} bytes to ${n} viewers in ${elapsed.toFixed(1)} s${
      flags.protobuf ? ", protobuf" : ", JSON"
    })`,
  );
  for (const [name, k2] of [["centrifugo", "cf"], ["smx side", "smx"], ["load", "load"]] as const) {
    console.log(
      `${name}: RSS ${before[k2]?.rssMiB ?? "?"} → ${afterConnect[k2]?.rssMiB ?? "?"} → ${
        cpu1[k2]?.rssMiB ?? "?"
      } MiB (start → connected → end); CPU ${cpuPct(k2)} % of a core in the steady window`,
    );
  }
  agg.close();
  for (const c of reactors) c.disconnect();
  smx.disconnect();
  api.close();
  await child.status;
  await cf.stop();
  console.log(JSON.stringify({
    viewers: n,
    connect_all_s: Math.round(connectAllS * 100) / 100,
    switch_fanout_p99_ms: rep.state.p99,
    reaction_fanout_p99_ms: rep.batch.p99,
    bytes_per_viewer_s: Math.round(bytesPerViewerS),
  }));
}

if (flags.load) await load();
else await main();

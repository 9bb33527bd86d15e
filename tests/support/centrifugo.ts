/**
 * Real Centrifugo v6 (and redis-server) for tests: the pinned binary from the server cache
 * (scripts/wan_servers.sh builds it when missing), a test config from centrifugoConfig written to
 * a temp dir, 127.0.0.1 only, a free port, readiness by /health. `restart()` stops and starts the
 * same node on the same port (what smx must survive). With `redis`, several nodes share one
 * redis-server (Debian package `redis-server`, in setup.sh's test packages).
 *
 * Nothing here skips: a missing binary is built, and a server that will not start fails the test
 * with its output.
 */
import { join } from "node:path";
import { Centrifuge, type FilterNode, type Subscription } from "centrifuge";
import { ROOT } from "./processes.ts";
import { signHs256 } from "../../server/wan/jwt.ts";
import {
  type ChannelKind,
  channelOf,
  type ParamsChannelMsg,
  type StateMsg,
} from "../../protocol/wan.ts";
import {
  centrifugoConfig,
  type CentrifugoConfigOptions,
} from "../../server/wan/relay/centrifugo_config.ts";

export { centrifugoConfig, type CentrifugoConfigOptions };

/** A free loopback TCP port (closed again at once; the server binds it next). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

let binary: Promise<string> | undefined;

/** The cached Centrifugo binary, built with scripts/wan_servers.sh when it is missing. */
export function centrifugoBinary(): Promise<string> {
  return binary ??= (async () => {
    const script = join(ROOT, "scripts", "wan_servers.sh");
    const print = await new Deno.Command("bash", { args: [script, "--print"] }).output();
    const line = new TextDecoder().decode(print.stdout).split("\n").find((l) =>
      l.startsWith("CENTRIFUGO=")
    );
    if (!line) throw new Error("scripts/wan_servers.sh --print named no CENTRIFUGO");
    const path = line.slice("CENTRIFUGO=".length);
    const exists = () => Deno.stat(path).then((s) => s.isFile, () => false);
    if (!(await exists())) {
      const build = await new Deno.Command("bash", { args: [script] }).output();
      if (!build.success || !(await exists())) {
        throw new Error(
          `Centrifugo is missing at ${path} and building it failed:\n` +
            new TextDecoder().decode(build.stderr),
        );
      }
    }
    return path;
  })();
}

/** A child process with its output kept (bounded) for failure messages. */
class Child {
  #out = "";
  readonly proc: Deno.ChildProcess;
  readonly done: Promise<Deno.CommandStatus>;

  constructor(cmd: string, args: string[], cwd?: string) {
    this.proc = new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const c of s) {
        this.#out += dec.decode(c, { stream: true });
        if (this.#out.length > 1 << 20) this.#out = this.#out.slice(-(1 << 19));
      }
    };
    const pumps = Promise.all([pump(this.proc.stdout), pump(this.proc.stderr)]).catch(() => {});
    this.done = this.proc.status.then(async (s) => {
      await pumps;
      return s;
    });
  }

  get output(): string {
    return this.#out;
  }

  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5000): Promise<void> {
    try {
      this.proc.kill("SIGCONT"); // a paused server cannot act on SIGTERM
      this.proc.kill(signal);
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    await this.done;
    clearTimeout(t);
  }
}

export interface CentrifugoOptions {
  /** Origin of the test site (allowed_origins). Default http://127.0.0.1. */
  origin?: string;
  /** Use the Redis engine at this address (several nodes: one redis, one call each). */
  redis?: { address: string };
  port?: number;
  tokenSecret?: string;
  apiKey?: string;
  nodeName?: string;
  logLevel?: CentrifugoConfigOptions["logLevel"];
}

export interface CentrifugoServer {
  port: number;
  /** WebSocket endpoint for clients. */
  url: string;
  /** Server API prefix (`${apiUrl}/publish`). */
  apiUrl: string;
  apiKey: string;
  tokenSecret: string;
  configPath: string;
  config: Record<string, unknown>;
  output(): string;
  /** Same node, same port, same config (memory engine: state and history are gone). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a stalled server (connections open, nothing answered). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const rand = () => crypto.randomUUID().replaceAll("-", "");

async function waitHealthy(port: number, child: Child, what: string, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  let exited = false;
  child.done.then(() => exited = true);
  for (;;) {
    if (exited) throw new Error(`${what} exited before it was ready:\n${child.output}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > end) {
      await child.stop("SIGKILL");
      throw new Error(`${what} not healthy in ${timeoutMs} ms:\n${child.output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startCentrifugo(o: CentrifugoOptions = {}): Promise<CentrifugoServer> {
  const bin = await centrifugoBinary();
  const port = o.port ?? freePort();
  const tokenSecret = o.tokenSecret ?? `test-secret-${rand()}`;
  const apiKey = o.apiKey ?? `test-api-${rand()}`;
  const dir = await Deno.makeTempDir({ prefix: "smx-centrifugo-" });
  const config = centrifugoConfig({
    address: "127.0.0.1",
    port,
    tokenSecret,
    apiKey,
    allowedOrigins: [o.origin ?? "http://127.0.0.1"],
    redis: o.redis,
    nodeName: o.nodeName,
    logLevel: o.logLevel ?? "info",
  });
  const configPath = join(dir, "config.json");
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  let child: Child;
  let stopped = false;
  const run = async () => {
    child = new Child(bin, ["--config", configPath], dir);
    await waitHealthy(port, child, `centrifugo on ${port}`);
    // checkconfig passes unknown keys; the server only warns about them once it runs.
    await new Promise((r) => setTimeout(r, 50));
    if (/unknown key in configuration/.test(child.output)) {
      await child.stop();
      throw new Error(`the test config has keys Centrifugo does not know:\n${child.output}`);
    }
  };
  await run();
  return {
    port,
    url: `ws://127.0.0.1:${port}/connection/websocket`,
    apiUrl: `http://127.0.0.1:${port}/api`,
    apiKey,
    tokenSecret,
    configPath,
    config,
    output: () => child.output,
    restart: async () => {
      await child.stop();
      await run();
    },
    pause: () => Deno.kill(child.proc.pid, "SIGSTOP"),
    resume: () => Deno.kill(child.proc.pid, "SIGCONT"),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await child.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export interface RedisServer {
  port: number;
  address: string;
  stop(): Promise<void>;
}

/** redis-server on 127.0.0.1 and a free port, nothing saved to disk. */
export async function startRedis(): Promise<RedisServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "smx-redis-" });
  let child: Child;
  try {
    child = new Child("redis-server", [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ]);
  } catch (e) {
    throw new Error(
      `redis-server cannot be started (${(e as Error).message}): install the Debian package ` +
        "redis-server (bash scripts/setup.sh test)",
    );
  }
  const end = Date.now() + 10000;
  while (!/Ready to accept connections/.test(child.output)) {
    if (Date.now() > end) {
      await child.stop("SIGKILL");
      throw new Error(`redis-server not ready:\n${child.output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    address: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await child.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// ---------------------------------------------------------------- a page-like client

export interface TestPageOptions {
  /** Centrifugo WebSocket endpoint. */
  url: string;
  tokenSecret: string;
  user: string;
  engine: string;
  /** Which channel a subscription token names (default: the channel itself). */
  tokenChannel?: (channel: string) => string;
  /** Subscribe to these kinds without any subscription token. */
  noToken?: ChannelKind[];
  /**
   * Subscribe with the tags filters centrifugo_config.ts describes: smx_params answers for this
   * user only, and none of the other pages' smx_ctl publications.
   */
  filtered?: boolean;
  /** Subscribe to these kinds only (default all three). */
  kinds?: ChannelKind[];
  tokenTtlS?: number;
}

export interface TestPage {
  client: Centrifuge;
  clientId: string;
  subs: Partial<Record<ChannelKind, Subscription>>;
  /** Publications on smx_state, in arrival order. */
  states: StateMsg[];
  /** Publications on smx_params (all of them, whoever they are addressed to). */
  params: ParamsChannelMsg[];
  /** Subscription errors and unsubscribes, by channel kind. */
  refusals: { kind: ChannelKind; code: number; message: string }[];
  /** Disconnects of the connection (code, reason), e.g. 3500 "invalid token". */
  disconnects: { code: number; reason: string }[];
  /** When each smx_params message arrived (performance.now), same indexes as `params`. */
  paramsAt: number[];
  /** Publications seen on smx_ctl (other pages' and its own). */
  ctl: unknown[];
  /** Publishes on smx_ctl (resolves when Centrifugo accepted it). */
  publish(data: unknown): Promise<void>;
  /** Waits until `pred` holds for a message (returns it), or throws after timeoutMs. */
  nextParams(pred: (m: ParamsChannelMsg) => boolean, what: string, timeoutMs?: number): Promise<
    ParamsChannelMsg
  >;
  nextState(pred: (m: StateMsg) => boolean, what: string, timeoutMs?: number): Promise<StateMsg>;
  close(): void;
}

/**
 * A centrifuge client as the site's page would run it: a connection token { sub: user } and one
 * subscription token per channel, signed here with the HMAC secret as the site would sign them.
 * Resolves once connected and the requested subscriptions are settled (subscribed or refused).
 */
export async function connectPage(o: TestPageOptions): Promise<TestPage> {
  const ttl = o.tokenTtlS ?? 300;
  const exp = () => Math.floor(Date.now() / 1000) + ttl;
  const client = new Centrifuge(o.url, {
    getToken: () => signHs256({ sub: o.user, exp: exp() }, o.tokenSecret),
    websocket: WebSocket,
    minReconnectDelay: 100,
    maxReconnectDelay: 2000,
    networkEventTarget: new EventTarget(),
    pageEventTarget: new EventTarget(),
  });
  const states: StateMsg[] = [];
  const params: ParamsChannelMsg[] = [];
  const paramsAt: number[] = [];
  const ctl: unknown[] = [];
  const refusals: TestPage["refusals"] = [];
  const subs: TestPage["subs"] = {};
  const settled: Promise<void>[] = [];
  for (const kind of o.kinds ?? (["state", "params", "ctl"] as ChannelKind[])) {
    const channel = channelOf(kind, o.engine);
    const tagsFilter: FilterNode | undefined = !o.filtered ? undefined : kind === "params"
      ? {
        op: "or",
        nodes: [{ key: "user", cmp: "nex" }, { key: "user", cmp: "eq", val: o.user }],
      }
      : kind === "ctl"
      ? { key: "smx", cmp: "ex" } // client publications carry no tags: matches none
      : undefined;
    const sub = client.newSubscription(channel, {
      ...(o.noToken?.includes(kind) ? {} : {
        getToken: () =>
          signHs256(
            { sub: o.user, channel: o.tokenChannel?.(channel) ?? channel, exp: exp() },
            o.tokenSecret,
          ),
      }),
      ...(tagsFilter ? { tagsFilter } : {}),
    });
    subs[kind] = sub;
    settled.push(
      new Promise<void>((resolve) => {
        sub.on("subscribed", () => resolve());
        sub.on("error", (c) => {
          refusals.push({ kind, code: c.error.code, message: c.error.message });
          resolve();
        });
        sub.on("unsubscribed", (c) => {
          refusals.push({ kind, code: c.code, message: c.reason });
          resolve();
        });
      }),
    );
    sub.on("publication", (ctx) => {
      if (kind === "state") states.push(ctx.data as StateMsg);
      else if (kind === "params") {
        params.push(ctx.data as ParamsChannelMsg);
        paramsAt.push(performance.now());
      } else ctl.push(ctx.data);
    });
    sub.subscribe();
  }
  const disconnects: TestPage["disconnects"] = [];
  const connected = new Promise<string>((resolve, reject) => {
    client.on("connected", (c) => resolve(c.client));
    client.on("disconnected", (c) => {
      disconnects.push({ code: c.code, reason: c.reason });
      reject(new Error(`page disconnected: ${c.code} ${c.reason}`));
    });
  });
  // A refused subscription token ends the whole connection (3500): that settles them all too.
  const dropped = new Promise<void>((r) => client.on("disconnected", () => r()));
  client.connect();
  const clientId = await connected;
  await Promise.race([
    Promise.all(settled),
    dropped,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error("page subscriptions not settled in 10 s")), 10000)
    ),
  ]);
  const wait = async <T>(
    list: T[],
    pred: (m: T) => boolean,
    what: string,
    timeoutMs = 5000,
  ): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = list.find(pred);
      if (m) return m;
      if (Date.now() > end) throw new Error(`page ${clientId}: no ${what} in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    client,
    clientId,
    subs,
    states,
    params,
    paramsAt,
    ctl,
    refusals,
    disconnects,
    publish: async (data) => {
      if (!subs.ctl) throw new Error("page has no ctl subscription");
      await subs.ctl.publish(data);
    },
    nextParams: (pred, what, t) => wait(params, pred, what, t),
    nextState: (pred, what, t) => wait(states, pred, what, t),
    close: () => client.disconnect(),
  };
}

/**
 * A real LAN on one machine, for tests: a network namespace joined to this one by a veth pair
 * (this kernel has no dummy interfaces). This side gets 10.231.X.1/30, the namespace 10.231.X.2;
 * a program inside the namespace reaches smx's LAN listener as a real non-loopback peer (and a
 * browser there gets a page that is not a secure context). Needs root (`ip netns`); without it the
 * test fails with the reason, never skips.
 *
 *   const lan = await createLan();            // or: await withLan(async (lan) => { … })
 *   try {
 *     smx: --lan-address lan.hostAddress      // listen on loopback + this veth address only
 *     await lan.run(["curl", "-s", url]);     // any command inside the namespace
 *     const agent = await lan.agent();        // HTTP with any header, WebSockets: see LanAgent
 *     chromium.launch({ executablePath: lan.chromium() })  // Chromium inside the namespace
 *   } finally {
 *     await lan.close();                      // removes the namespace (and the veth pair)
 *   }
 *
 * Namespaces are named smx-<pid>-<n>; createLan() first removes those of processes that no longer
 * exist (a run killed before its finally), and never another live process's.
 *
 * This file also runs inside the namespace: `deno run -A netns.ts agent` is the LanAgent's far end,
 * a small client reading one JSON request per line on stdin and answering on stdout.
 */

import type { LanStatus } from "../../protocol/lan.ts";
import type { Proc } from "./processes.ts";

const IP = "ip";
const AGENT_ARG = "agent";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HttpRequest {
  url: string;
  method?: string;
  /** Sent as given (lower-case names); `host` replaces the URL's. `connection: close` is added. */
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface HttpResult {
  status: number;
  /** Lower-case names; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  body: string;
}

export interface WsClose {
  code: number;
  reason: string;
}

export interface WsOpenResult {
  /** Handle for wsClosed/wsClose; present when the socket opened. */
  handle?: number;
  opened: boolean;
  /** Set when it closed before opening (a refused handshake is 1006). */
  close?: WsClose;
}

export interface WsClosedResult {
  /** null: still open after the timeout. */
  close: WsClose | null;
  /** Messages received so far (text and binary). */
  messages: number;
}

/** A client running inside the namespace. Each call is one request to it. */
export interface LanAgent {
  http(req: HttpRequest): Promise<HttpResult>;
  /** The same request `count` times, one after another; statuses counted, one body per status. */
  httpMany(
    req: HttpRequest,
    count: number,
  ): Promise<{ statuses: Record<string, number>; bodies: Record<string, string> }>;
  /** Opens a WebSocket (Deno's own, with `headers` such as origin and cookie). */
  ws(url: string, headers?: Record<string, string>, timeoutMs?: number): Promise<WsOpenResult>;
  /** Waits up to `timeoutMs` for the socket to close. */
  wsClosed(handle: number, timeoutMs: number): Promise<WsClosedResult>;
  wsClose(handle: number): Promise<void>;
  /**
   * Opens `count` TCP connections to `url`'s host and sends nothing (a peer hoarding sockets);
   * after `waitMs` says how many the server has closed. The rest stay open until release().
   */
  hold(url: string, count: number, waitMs: number): Promise<{ closed: number }>;
  release(): Promise<void>;
  close(): Promise<void>;
}

export interface Lan {
  /** The namespace's name (smx-<pid>-<n>). */
  readonly name: string;
  /** This side of the veth pair (where smx listens). */
  readonly hostAddress: string;
  /** The namespace's side (the peer address smx sees). */
  readonly peerAddress: string;
  /** Runs a command inside the namespace (bounded: killed after timeoutMs, default 30 s). */
  run(cmd: string[], o?: { timeoutMs?: number }): Promise<RunResult>;
  /** Starts a LanAgent inside the namespace (closed by close() if the test does not). */
  agent(): Promise<LanAgent>;
  /**
   * A script that runs Chromium inside the namespace, for playwright's `executablePath`
   * (`exec ip netns exec NS /usr/bin/chromium "$@"`; SMX_CHROMIUM overrides the browser).
   */
  chromium(): string;
  /** Removes the namespace, the veth pair, agents and the wrapper. Idempotent. */
  close(): Promise<void>;
}

async function exec(cmd: string[], timeoutMs = 30_000): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function must(cmd: string[]): Promise<string> {
  let r: RunResult;
  try {
    r = await exec(cmd);
  } catch (e) {
    throw new Error(`${cmd.join(" ")}: ${(e as Error).message} (the LAN tests need iproute2)`);
  }
  if (r.code !== 0) {
    throw new Error(
      `${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}` +
        (Deno.uid() !== 0 ? " — network namespaces need root" : ""),
    );
  }
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound); // EPERM: alive, someone else's
  }
}

/** Removes smx-<pid>-* namespaces (and wrapper folders) of processes that are gone. */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const line of (await must([IP, "netns", "list"])).split("\n")) {
    const m = /^(smx-(\d+)-\d+)\b/.exec(line.trim());
    if (m && !alive(Number(m[2]))) {
      await exec([IP, "netns", "del", m[1]]);
      removed.push(m[1]);
    }
  }
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  for (const e of Deno.readDirSync(tmp)) {
    const m = /^smx-netns-(\d+)-/.exec(e.name);
    if (e.isDirectory && m && !alive(Number(m[1]))) {
      Deno.removeSync(`${tmp}/${e.name}`, { recursive: true });
    }
  }
  return removed;
}

let made = 0;

/** A free /30 in 10.231.0.0/16: its .1 is on no interface of this namespace. */
async function freeBlock(): Promise<[string, string]> {
  const used = await must([IP, "-4", "-o", "addr", "show"]);
  for (let tries = 0; tries < 100; tries++) {
    const i = Math.floor(Math.random() * 16384);
    const base = `10.231.${i >> 6}.${(i & 63) * 4}`;
    const [a, b, c, d] = base.split(".").map(Number);
    const host = `${a}.${b}.${c}.${d + 1}`;
    if (!used.includes(` ${host}/`)) return [host, `${a}.${b}.${c}.${d + 2}`];
  }
  throw new Error("no free /30 in 10.231.0.0/16");
}

export async function createLan(): Promise<Lan> {
  await removeStaleNamespaces();
  const n = made++;
  const name = `smx-${Deno.pid}-${n}`;
  const hostIf = `sx${Deno.pid}h${n}`.slice(0, 15);
  const peerIf = `sx${Deno.pid}c${n}`.slice(0, 15);
  const [hostAddress, peerAddress] = await freeBlock();
  const agents = new Set<LanAgent>();
  let wrapperDir: string | undefined;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([...agents].map((a) => a.close().catch(() => {})));
    await exec([IP, "netns", "del", name]); // takes the veth pair with it
    await exec([IP, "link", "del", hostIf]); // should the pair have outlived it
    if (wrapperDir) Deno.removeSync(wrapperDir, { recursive: true });
  };

  try {
    await must([IP, "netns", "add", name]);
    await must([IP, "link", "add", hostIf, "type", "veth", "peer", "name", peerIf, "netns", name]);
    await must([IP, "addr", "add", `${hostAddress}/30`, "dev", hostIf]);
    await must([IP, "link", "set", hostIf, "up"]);
    await must([IP, "-n", name, "addr", "add", `${peerAddress}/30`, "dev", peerIf]);
    await must([IP, "-n", name, "link", "set", peerIf, "up"]);
    await must([IP, "-n", name, "link", "set", "lo", "up"]);
    // Carrier comes up a moment after both ends are up.
    const deadline = Date.now() + 5000;
    while (!(await must([IP, "-n", name, "link", "show", peerIf])).includes("LOWER_UP")) {
      if (Date.now() > deadline) throw new Error(`${peerIf} in ${name} has no carrier after 5 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (e) {
    await close();
    throw e;
  }

  return {
    name,
    hostAddress,
    peerAddress,
    run: (cmd, o) => exec([IP, "netns", "exec", name, ...cmd], o?.timeoutMs),
    async agent() {
      const a = await startAgent(name);
      agents.add(a);
      return a;
    },
    chromium() {
      if (!wrapperDir) {
        wrapperDir = Deno.makeTempDirSync({ prefix: `smx-netns-${Deno.pid}-` });
        const browser = Deno.env.get("SMX_CHROMIUM") ?? "/usr/bin/chromium";
        Deno.writeTextFileSync(
          `${wrapperDir}/chromium`,
          `#!/bin/sh\nexec ${IP} netns exec ${name} ${browser} "$@"\n`,
          { mode: 0o755 },
        );
      }
      return `${wrapperDir}/chromium`;
    },
    close,
  };
}

/** createLan(), `fn`, and the namespace removed whatever `fn` did. */
export async function withLan<T>(fn: (lan: Lan) => Promise<T>): Promise<T> {
  const lan = await createLan();
  try {
    return await fn(lan);
  } finally {
    await lan.close();
  }
}

// ---- smx on the LAN ----------------------------------------------------------------------------

export interface LanSmx {
  proc: Proc;
  port: number;
  /** http://<veth address>:<port>: what a LAN device opens. */
  lanOrigin: string;
  /** http://127.0.0.1:<port> */
  loopback: string;
  /** GET /api/lan over loopback. */
  status(): Promise<LanStatus>;
  /** The secret in the current QR URL. */
  secret(): Promise<string>;
  close(): Promise<void>;
}

/**
 * `smx start --lan-address <this LAN's host address>` (loopback + that address only; no demo
 * engine, a fixed encode budget: start-up in seconds), with `args` added.
 */
export async function startSmxOnLan(
  lan: Lan,
  args: string[] = [],
  o: { engineDir?: string } = {},
): Promise<LanSmx> {
  // Imported here: the agent (this file, inside the namespace) must load nothing but itself.
  const { startMainTs, tempEngineDir } = await import("./processes.ts");
  // A folder of its own, or the caller's (where the caller started an engine for smx to find).
  const engines = o.engineDir ?? tempEngineDir();
  const proc = await startMainTs([
    "start",
    "--port",
    "0",
    "--no-demo",
    "--encode-budget",
    "50",
    "--encoders",
    "libx264",
    "--lan-address",
    lan.hostAddress,
    ...args,
  ], { env: { SMX_ENGINE_DIR: engines } });
  const loopback = `http://127.0.0.1:${proc.port}`;
  const status = async (): Promise<LanStatus> => {
    const res = await fetch(`${loopback}/api/lan`);
    if (!res.ok) throw new Error(`GET /api/lan: ${res.status} ${await res.text()}`);
    return await res.json();
  };
  return {
    proc,
    port: proc.port,
    lanOrigin: `http://${lan.hostAddress}:${proc.port}`,
    loopback,
    status,
    secret: async () => new URL((await status()).pairingUrl!).hash.slice(1),
    async close() {
      await proc.kill("SIGTERM");
      if (!o.engineDir) Deno.removeSync(engines, { recursive: true });
    },
  };
}

// ---- The agent: this side -------------------------------------------------------------------

async function startAgent(ns: string): Promise<LanAgent> {
  const child = new Deno.Command(IP, {
    args: [
      "netns",
      "exec",
      ns,
      Deno.execPath(),
      "run",
      "-A",
      "--no-config", // the project config names npm packages, unreachable from in there
      "--no-lock",
      import.meta.filename!,
      AGENT_ARG,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let stderr = "";
  let nextId = 1;
  let ended = false;
  const fail = (why: string) => {
    ended = true;
    for (const p of pending.values()) p.reject(new Error(`LAN agent in ${ns}: ${why}\n${stderr}`));
    pending.clear();
  };
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + c).slice(-8000);
    }
  })().catch(() => {});
  (async () => {
    let buf = "";
    for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += c;
      for (let nl; (nl = buf.indexOf("\n")) >= 0;) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(msg.error));
        else p?.resolve(msg.result);
      }
    }
  })().catch(() => {}).finally(() => fail("exited"));

  const ready = call<string>("ping", {}, 30_000);
  function call<T>(op: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (ended) return Promise.reject(new Error(`LAN agent in ${ns} has exited:\n${stderr}`));
    const id = nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const timer = setTimeout(
      () => reject(new Error(`LAN agent in ${ns}: no answer to ${op} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    pending.set(id, {
      resolve: (v) => resolve(v as T),
      reject,
    });
    writer.write(new TextEncoder().encode(JSON.stringify({ id, op, ...args }) + "\n"))
      .catch((e) => reject(e));
    return promise.finally(() => clearTimeout(timer));
  }
  await ready;
  return {
    http: (req) => call("http", { req }, (req.timeoutMs ?? 10_000) + 5000),
    httpMany: (req, count) => call("httpMany", { req, count }, 120_000),
    ws: (url, headers = {}, timeoutMs = 5000) =>
      call("ws", { url, headers, timeoutMs }, timeoutMs + 5000),
    wsClosed: (handle, timeoutMs) => call("wsClosed", { handle, timeoutMs }, timeoutMs + 5000),
    wsClose: (handle) => call("wsClose", { handle }),
    hold: (url, count, waitMs) => call("hold", { url, count, timeoutMs: waitMs }, waitMs + 30_000),
    release: () => call("release", {}),
    async close() {
      if (!ended) {
        await writer.close().catch(() => {});
        const t = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 2000);
        await child.status;
        clearTimeout(t);
      }
    },
  };
}

// ---- The agent: the far end, inside the namespace ----------------------------------------------

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function headEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function dechunk(b: Uint8Array): Uint8Array {
  const dec = new TextDecoder();
  let out: Uint8Array = new Uint8Array(0);
  let i = 0;
  while (i < b.length) {
    let nl = i;
    while (nl + 1 < b.length && !(b[nl] === 13 && b[nl + 1] === 10)) nl++;
    const size = parseInt(dec.decode(b.subarray(i, nl)), 16);
    if (!(size > 0)) break;
    out = concat(out, b.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
  return out;
}

/**
 * HTTP/1.1 over a plain TCP connection: every header exactly as given, Host included (fetch
 * replaces Host). Used by the agent, and directly on this side for loopback.
 */
export async function rawHttp(r: HttpRequest): Promise<HttpResult> {
  const u = new URL(r.url);
  const body = r.body === undefined ? undefined : new TextEncoder().encode(r.body);
  const headers: Record<string, string> = { host: u.host, connection: "close", ...r.headers };
  if (body) headers["content-length"] = String(body.length);
  const head = `${r.method ?? "GET"} ${u.pathname}${u.search} HTTP/1.1\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  const conn = await Deno.connect({
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port || 80),
  });
  const timer = setTimeout(() => conn.close(), r.timeoutMs ?? 10_000);
  try {
    const req = body
      ? concat(new TextEncoder().encode(head), body)
      : new TextEncoder().encode(head);
    for (let off = 0; off < req.length;) off += await conn.write(req.subarray(off));
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    let parsed: { status: number; headers: Record<string, string>; start: number } | undefined;
    for (;;) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      buf = concat(buf, chunk.subarray(0, n));
      if (!parsed) {
        const end = headEnd(buf);
        if (end < 0) continue;
        const lines = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n");
        const hs: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const c = l.indexOf(":");
          const k = l.slice(0, c).trim().toLowerCase();
          const v = l.slice(c + 1).trim();
          hs[k] = hs[k] === undefined ? v : `${hs[k]}${k === "set-cookie" ? "\n" : ", "}${v}`;
        }
        parsed = { status: Number(lines[0].split(" ")[1]), headers: hs, start: end + 4 };
        if (parsed.status === 101) break; // an accepted upgrade: the socket stays open
      }
      const len = parsed.headers["content-length"];
      if (len !== undefined && buf.length - parsed.start >= Number(len)) break;
    }
    if (!parsed) throw new Error(`no HTTP answer from ${u.host}`);
    let bytes = buf.subarray(parsed.start);
    if (parsed.headers["transfer-encoding"]?.includes("chunked")) bytes = dechunk(bytes);
    return {
      status: parsed.status,
      headers: parsed.headers,
      body: new TextDecoder().decode(bytes),
    };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** One request to the agent (the fields its op uses). */
interface AgentMessage {
  id: number;
  op: string;
  req: HttpRequest;
  count: number;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  handle: number;
}

interface AgentSocket {
  ws: WebSocket;
  messages: number;
  closed: Promise<WsClose>;
}

async function runAgent(): Promise<void> {
  const sockets = new Map<number, AgentSocket>();
  const held: Deno.Conn[] = [];
  let nextHandle = 1;
  const out = (o: unknown) =>
    Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  const ops: Record<string, (m: AgentMessage) => Promise<unknown>> = {
    ping: () => Promise.resolve("pong"),
    http: (m) => rawHttp(m.req),
    async httpMany(m) {
      const statuses: Record<string, number> = {};
      const bodies: Record<string, string> = {};
      for (let i = 0; i < m.count; i++) {
        const r = await rawHttp(m.req);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        bodies[r.status] ??= r.body;
      }
      return { statuses, bodies };
    },
    async ws(m) {
      // Deno's WebSocket takes request headers (origin, cookie); browsers set them themselves.
      const ws = new WebSocket(m.url, { headers: m.headers } as unknown as string[]);
      const s: AgentSocket = {
        ws,
        messages: 0,
        closed: new Promise((resolve) =>
          ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }))
        ),
      };
      ws.addEventListener("message", () => s.messages++);
      const opened = await Promise.race([
        new Promise<boolean>((r) => ws.addEventListener("open", () => r(true))),
        s.closed.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(false), m.timeoutMs)),
      ]);
      if (!opened) {
        const close = await Promise.race([
          s.closed,
          new Promise<null>((r) => setTimeout(() => r(null), 100)),
        ]);
        ws.close();
        return { opened: false, close: close ?? { code: 0, reason: "timeout" } };
      }
      const handle = nextHandle++;
      sockets.set(handle, s);
      return { handle, opened: true };
    },
    async wsClosed(m) {
      const s = sockets.get(m.handle);
      if (!s) throw new Error(`no socket ${m.handle}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const close = await Promise.race([
        s.closed,
        new Promise<null>((r) => timer = setTimeout(() => r(null), m.timeoutMs)),
      ]);
      clearTimeout(timer);
      return { close, messages: s.messages };
    },
    async hold(m) {
      const u = new URL(m.url);
      const conns: Deno.Conn[] = [];
      for (let i = 0; i < m.count; i++) {
        conns.push(await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) }));
      }
      // A read that ends (null) or fails within the wait: the server closed that connection.
      const ends = conns.map((c) => c.read(new Uint8Array(1)).then((n) => n === null, () => true));
      await new Promise((r) => setTimeout(r, m.timeoutMs));
      let closed = 0;
      for (let i = 0; i < conns.length; i++) {
        const done = await Promise.race([ends[i], Promise.resolve(false)]);
        if (done) closed++;
        else held.push(conns[i]);
      }
      return { closed };
    },
    release() {
      for (const c of held.splice(0)) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      return Promise.resolve();
    },
    wsClose(m) {
      sockets.get(m.handle)?.ws.close();
      sockets.delete(m.handle);
      return Promise.resolve();
    },
  };
  let buf = "";
  for await (const c of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += c;
    for (let nl; (nl = buf.indexOf("\n")) >= 0;) {
      const m = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const op = ops[m.op];
      (op ? op(m) : Promise.reject(new Error(`unknown op ${m.op}`))).then(
        (result) => out({ id: m.id, result }),
        (e) => out({ id: m.id, error: String((e as Error).message ?? e) }),
      );
    }
  }
  for (const s of sockets.values()) s.ws.close();
  Deno.exit(0);
}

if (import.meta.main && Deno.args[0] === AGENT_ARG) await runAgent();

/**
 * The Deno adapter: listens with Deno.serve on loopback and, with the LAN reach, on each LAN
 * address (same port; each keeps listening when accept() fails), decides who the peer is before
 * any routing — the loopback guard on loopback, the LAN gate (Host, Origin, paired session) on a
 * LAN listener — refuses clients past the one connection ceiling shared by all listeners, upgrades
 * WebSockets with Deno's own implementation (a standard WebSocket with bufferedAmount), and puts
 * the security headers on every answer.
 *
 * The app gets the peer as its Hono binding (`c.env.peer`, http/peer.ts); a LAN session's
 * WebSockets are handed to the LAN reach, which closes them when the pairing ends.
 */
import { LoopbackGuard } from "./http/guard.ts";
import {
  ConnectionLimit,
  type ConnectionStats,
  defaultMaxConnections,
  type Slot,
} from "./http/connection_limit.ts";
import { openFilesSoftLimit } from "./http/open_files_limit.ts";
import { busyResponse } from "./http/busy.ts";
import { keepListening, type KeptListening } from "./http/keep_listening.ts";
import type { Peer } from "./http/peer.ts";
import { secured } from "./http/security_headers.ts";
import type { GateVerdict } from "./lan/gate.ts";
import { rateLimited } from "./log.ts";

export interface ListenStats extends ConnectionStats {
  /** How often an accept loop died (EMFILE…) and smx listened again. */
  listenerRestarts: number;
}

export interface Listening {
  port: number;
  hostname: string;
  /** The LAN addresses served (empty without the LAN reach). */
  lanAddresses: string[];
  /** Live connection counts, for /api/stats. */
  connections(): ListenStats;
  shutdown(): Promise<void>;
}

/** What listen() needs of the LAN reach (server/lan/lan.ts). */
export interface LanListeners {
  addresses: string[];
  /** Set by listen() to the port every listener serves. */
  port: number;
  gate: {
    check(
      req: Request,
      listener: { address: string; port: number },
      remote: string,
    ): Promise<GateVerdict>;
  };
  /** Takes a LAN peer's upgraded WebSocket (counted under its session, closed when it ends). */
  attach(peer: Peer, socket: WebSocket): void;
}

export interface ListenOptions {
  /** The loopback address. */
  hostname: string;
  port: number;
  /**
   * Ceiling on live connections over all listeners: requests in flight plus open WebSockets
   * (what is and is not counted: http/connection_limit.ts). Default: defaultMaxConnections() of
   * the open-files soft limit when listening starts. Infinity: no ceiling.
   */
  maxConnections?: number;
  /** Refused requests and listener restarts, rate-limited (a flood of them is one line per 10 s). */
  log?: (m: string) => void;
  /** Also serve these LAN addresses, on the loopback listener's port, under the LAN gate. */
  lan?: LanListeners;
}

/** What the app is given with each request. */
export interface ServeEnv {
  peer: Peer;
}

export interface FetchApp {
  fetch(req: Request, env: ServeEnv): Response | Promise<Response>;
}

/** The socket each upgraded request became, so that its place is held until it closes. */
const upgradedSockets = new WeakMap<Request, WebSocket>();

export function denoUpgrade(req: Request) {
  const upgraded = Deno.upgradeWebSocket(req, { idleTimeout: 30 });
  upgradedSockets.set(req, upgraded.socket);
  return upgraded;
}

function holdUntilClosed(socket: WebSocket, slot: Slot) {
  slot.upgraded();
  if (socket.readyState === WebSocket.CLOSED) return slot.release();
  let opened = socket.readyState === WebSocket.OPEN;
  socket.addEventListener("open", () => opened = true, { once: true });
  socket.addEventListener("close", () => slot.release(), { once: true });
  // An upgrade that fails fires "error" and never "close".
  socket.addEventListener("error", () => opened || slot.release(), { once: true });
}

export async function listen(app: FetchApp, opts: ListenOptions): Promise<Listening> {
  let port = opts.port;
  const guard = new LoopbackGuard(() => port);
  const limit = new ConnectionLimit(
    opts.maxConnections ?? defaultMaxConnections(openFilesSoftLimit()),
  );
  const write = opts.log ?? (() => {});
  const refusals = rateLimited(write, {
    summary: (key, n, s) => `${n} more refused (${key}) in the last ${s} s`,
  });
  const listenerLog = rateLimited(write);
  const lan = opts.lan;

  /** The peer, or the refusal to answer with (loopback guard or LAN gate). */
  const admit = async (
    req: Request,
    remote: string,
    lanAddress: string | undefined,
  ): Promise<Peer | Response> => {
    if (lanAddress === undefined || !lan) {
      const verdict = guard.check(req, remote);
      if (verdict.ok) return { reach: "loopback", address: remote };
      refusals(String(verdict.status), `refused ${describe(req)}: ${verdict.reason}`);
      return new Response(verdict.reason, { status: verdict.status });
    }
    const v = await lan.gate.check(req, { address: lanAddress, port }, remote);
    if (v.ok) return v.peer;
    // An unpaired page sent to /pair is no refusal worth a line.
    if (v.status !== 303) {
      refusals(`lan ${v.status}`, `refused ${describe(req)} from ${remote}: ${v.reason}`);
    }
    return v.response;
  };

  const handlerFor = (lanAddress?: string) => async (req: Request, info: Deno.ServeHandlerInfo) => {
    const path = new URL(req.url).pathname;
    const peer = await admit(req, (info.remoteAddr as Deno.NetAddr).hostname, lanAddress);
    if (peer instanceof Response) return secured(peer, path);
    const slot = limit.admit();
    if (!slot) {
      refusals("busy", `refused ${describe(req)}: at the connection limit (${limit.max})`);
      return secured(busyResponse(req, limit.max), path);
    }
    const done = () => {
      const socket = upgradedSockets.get(req);
      if (socket) holdUntilClosed(socket, slot);
      else slot.release();
    };
    // Taken before the app runs: an upgrade settles `completed`, which, first read after the
    // upgrade, would never settle.
    info.completed.then(done, done);
    const res = await app.fetch(req, { peer });
    const socket = upgradedSockets.get(req);
    // Handed over before the 101 goes out: a rotation from now on closes this socket too.
    if (socket && peer.reach === "lan") lan?.attach(peer, socket);
    return secured(res, path);
  };

  const serveOn = async (hostname: string, lanAddress?: string) => {
    const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
    const server = keepListening(
      () =>
        Deno.serve({
          hostname,
          port, // the first server's port when listening again, so clients find smx where it was
          onListen: (addr) => {
            port = addr.port;
            resolve(addr);
          },
        }, handlerFor(lanAddress)),
      { log: (m) => listenerLog(`listener ${hostname}`, `${hostname}: ${m}`) },
    );
    return { server, addr: await promise };
  };

  const servers: KeptListening[] = [];
  const shutdownAll = async () => {
    await Promise.all(servers.map((s) => s.shutdown()));
    refusals.flush();
    listenerLog.flush();
  };
  const loopback = await serveOn(opts.hostname);
  servers.push(loopback.server);
  if (lan) {
    lan.port = port;
    for (const address of lan.addresses) {
      try {
        servers.push((await serveOn(address, address)).server);
      } catch (e) {
        await shutdownAll();
        throw new Error(`cannot listen on ${address} port ${port}: ${(e as Error).message}`);
      }
    }
  }
  return {
    port,
    hostname: loopback.addr.hostname,
    lanAddresses: lan ? [...lan.addresses] : [],
    connections: () => ({
      ...limit.stats(),
      listenerRestarts: servers.reduce((n, s) => n + s.restarts(), 0),
    }),
    shutdown: shutdownAll,
  };
}

/** Method and path for a log line (never the query: it is the client's text). */
function describe(req: Request): string {
  return `${req.method} ${new URL(req.url).pathname}`;
}

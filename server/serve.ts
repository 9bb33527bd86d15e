/**
 * The Deno adapter: listens with Deno.serve on loopback and, with the LAN reach, on each LAN
 * address (same port; each keeps listening when accept() fails; a LAN address is accepted by
 * http/lan_front.ts, which bounds connections per peer and passes them to a private loopback
 * Deno.serve), decides who the peer is before
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
import { LAN_CONNECTIONS, LanFront, type LanFrontStats } from "./http/lan_front.ts";
import type { Peer } from "./http/peer.ts";
import { secured } from "./http/security_headers.ts";
import type { GateVerdict } from "./lan/gate.ts";
import { rateLimited } from "./log.ts";

export interface ListenStats extends ConnectionStats {
  /** How often an accept loop died (EMFILE…) and smx listened again. */
  listenerRestarts: number;
  /** TCP connections of LAN peers (all LAN addresses), when serving the LAN. */
  lan?: LanFrontStats;
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

  const fronts: LanFront[] = [];
  /**
   * `lanAddress`: this server is the inner one behind the LAN front of that address, and the peer
   * is whoever the front says the inner connection carries.
   */
  const handlerFor = (lanAddress?: string) => async (req: Request, info: Deno.ServeHandlerInfo) => {
    const path = new URL(req.url).pathname;
    const from = info.remoteAddr as Deno.NetAddr;
    let remote = from.hostname;
    if (lanAddress !== undefined) {
      const front = fronts.find((f) => f.address === lanAddress);
      const peer = front?.peerOf(from.port);
      // A local process that found the inner port: it did not come through the front.
      if (!peer) return secured(new Response("not a LAN connection\n", { status: 403 }), path);
      remote = peer;
    }
    const peer = await admit(req, remote, lanAddress);
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

  /** Deno.serve on `hostname`, port `at` (0: any; kept when listening again). */
  const serveOn = async (
    hostname: string,
    at: number,
    o: { lanAddress?: string; onBound?: (port: number) => void } = {},
  ) => {
    const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
    let bound = at;
    const server = keepListening(
      () =>
        Deno.serve({
          hostname,
          port: bound, // the first server's port when listening again: clients find smx there
          onListen: (addr) => {
            bound = addr.port;
            o.onBound?.(bound);
            resolve(addr);
          },
        }, handlerFor(o.lanAddress)),
      { log: (m) => listenerLog(`listener ${hostname}`, `${hostname}: ${m}`) },
    );
    return { server, addr: await promise };
  };

  const servers: KeptListening[] = [];
  const shutdownAll = async () => {
    for (const f of fronts) f.close();
    await Promise.all(servers.map((s) => s.shutdown()));
    refusals.flush();
    listenerLog.flush();
  };
  // The guard reads `port` from the first request on, so it is set the moment smx listens.
  const loopback = await serveOn(opts.hostname, port, { onBound: (p) => port = p });
  servers.push(loopback.server);
  if (lan) {
    lan.port = port;
    // Each LAN connection holds three descriptors: keep LAN peers to a quarter of the ceiling.
    const total = Math.min(LAN_CONNECTIONS, Math.max(16, Math.floor(limit.max / 4)));
    for (const address of lan.addresses) {
      try {
        const inner = await serveOn("127.0.0.1", 0, { lanAddress: address });
        servers.push(inner.server);
        fronts.push(
          new LanFront({
            address,
            port,
            innerPort: inner.addr.port,
            total,
            log: (key, m) => refusals(key, m),
          }),
        );
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
      ...(lan
        ? {
          lan: fronts.map((f) => f.stats()).reduce(
            (a, b) => ({
              open: a.open + b.open,
              refused: a.refused + b.refused,
              timedOut: a.timedOut + b.timedOut,
            }),
            { open: 0, refused: 0, timedOut: 0 },
          ),
        }
        : {}),
    }),
    shutdown: shutdownAll,
  };
}

/** Method and path for a log line (never the query: it is the client's text). */
function describe(req: Request): string {
  return `${req.method} ${new URL(req.url).pathname}`;
}

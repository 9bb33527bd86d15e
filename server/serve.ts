/**
 * The Deno adapter: listens with Deno.serve (and keeps listening when accept() fails), applies the
 * loopback guard before any routing, refuses clients past the connection ceiling, and upgrades
 * WebSockets with Deno's own implementation (a standard WebSocket with bufferedAmount).
 */
import type { Hono } from "hono";
import { LoopbackGuard } from "./http/guard.ts";
import {
  ConnectionLimit,
  type ConnectionStats,
  defaultMaxConnections,
  type Slot,
} from "./http/connection_limit.ts";
import { openFilesSoftLimit } from "./http/open_files_limit.ts";
import { busyResponse } from "./http/busy.ts";
import { keepListening } from "./http/keep_listening.ts";
import { rateLimited } from "./log.ts";

export interface ListenStats extends ConnectionStats {
  /** How often the accept loop died (EMFILE…) and smx listened again. */
  listenerRestarts: number;
}

export interface Listening {
  port: number;
  hostname: string;
  /** Live connection counts, for /api/stats. */
  connections(): ListenStats;
  shutdown(): Promise<void>;
}

export interface ListenOptions {
  hostname: string;
  port: number;
  /**
   * Ceiling on live connections: requests in flight plus open WebSockets (what is and is not
   * counted: http/connection_limit.ts). Default: defaultMaxConnections() of the open-files soft
   * limit when listening starts. Infinity: no ceiling.
   */
  maxConnections?: number;
  /** Refused requests and listener restarts, rate-limited (a flood of them is one line per 10 s). */
  log?: (m: string) => void;
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

export async function listen(app: Hono, opts: ListenOptions): Promise<Listening> {
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

  const handler = (req: Request, info: Deno.ServeHandlerInfo) => {
    const path = () => `${req.method} ${new URL(req.url).pathname}`;
    const verdict = guard.check(req, (info.remoteAddr as Deno.NetAddr).hostname);
    if (!verdict.ok) {
      refusals(String(verdict.status), `refused ${path()}: ${verdict.reason}`);
      return new Response(verdict.reason, { status: verdict.status });
    }
    const slot = limit.admit();
    if (!slot) {
      refusals("busy", `refused ${path()}: at the connection limit (${limit.max})`);
      return busyResponse(req, limit.max);
    }
    const done = () => {
      const socket = upgradedSockets.get(req);
      if (socket) holdUntilClosed(socket, slot);
      else slot.release();
    };
    // Taken before the app runs: an upgrade settles `completed`, which, first read after the
    // upgrade, would never settle.
    info.completed.then(done, done);
    return app.fetch(req);
  };

  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = keepListening(
    () =>
      Deno.serve({
        hostname: opts.hostname,
        port, // the first server's port when listening again, so clients find smx where it was
        onListen: (addr) => {
          port = addr.port;
          resolve(addr);
        },
      }, handler),
    { log: (m) => listenerLog("listener", m) },
  );
  const addr = await promise;
  return {
    port,
    hostname: addr.hostname,
    connections: () => ({ ...limit.stats(), listenerRestarts: server.restarts() }),
    async shutdown() {
      await server.shutdown();
      refusals.flush();
      listenerLog.flush();
    },
  };
}

/**
 * The Deno adapter: listens with Deno.serve, applies the loopback guard before any routing, and
 * upgrades WebSockets with Deno's own implementation (a standard WebSocket with bufferedAmount).
 */
import type { Hono } from "hono";
import { LoopbackGuard } from "./http/guard.ts";

export interface Listening {
  port: number;
  hostname: string;
  shutdown(): Promise<void>;
}

export function denoUpgrade(req: Request) {
  return Deno.upgradeWebSocket(req, { idleTimeout: 30 });
}

export function listen(
  app: Hono,
  opts: { hostname: string; port: number; log?: (m: string) => void },
): Promise<Listening> {
  let port = opts.port;
  const guard = new LoopbackGuard(() => port);
  const { promise, resolve } = Promise.withResolvers<Listening>();
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    onListen: (addr) => {
      port = addr.port;
      resolve({ port, hostname: addr.hostname, shutdown: () => server.shutdown() });
    },
  }, (req, info) => {
    const peer = (info.remoteAddr as Deno.NetAddr).hostname;
    const verdict = guard.check(req, peer);
    if (!verdict.ok) {
      opts.log?.(`refused ${req.method} ${new URL(req.url).pathname}: ${verdict.reason}`);
      return new Response(verdict.reason, { status: verdict.status });
    }
    return app.fetch(req);
  });
  return promise;
}

/**
 * Request hygiene on a LAN listener, before any routing. A LAN peer is anyone on the network, and
 * any web page the user's own browser shows, so every request must pass:
 * - `Host` names exactly the address:port this listener serves (DNS rebinding: evil.example
 *   resolving to our LAN address would otherwise let its page read our answers);
 * - `Origin`, when present, is this listener's own origin; on every WebSocket upgrade and every
 *   request other than GET/HEAD it must be present too (cross-site WebSocket hijacking, CSRF; a
 *   browser always sends it there);
 * - a paired session (the cookie), except for what /pair itself needs: without one, a page
 *   navigation to `/` is sent to /pair and everything else is refused 401 — WebSocket upgrades
 *   included, so an unpaired peer never gets a socket;
 * - the loopback-only API and the QR (which holds the secret) are refused even with a session.
 */
import { originOf, PAIR_PATH, QR_SVG_PATH, sessionCookieName } from "../../protocol/lan.ts";
import type { Peer } from "../http/peer.ts";
import type { Sessions } from "./sessions.ts";

export type GateVerdict = { ok: true; peer: Peer } | {
  ok: false;
  status: number;
  reason: string;
  response: Response;
};

/** Paths a peer reaches without a session: the pairing page, its script and the pairing call. */
const PAIR_ASSETS = new Set([PAIR_PATH, "/assets/pair.js"]);

export function isLoopbackOnlyPath(path: string): boolean {
  return path === QR_SVG_PATH || path === "/api/lan" || path.startsWith("/api/lan/");
}

export function cookieValues(header: string | null, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out.slice(0, 4); // a page cannot make us hash a thousand cookies per request
}

function refuse(status: number, reason: string, headers: Record<string, string> = {}): GateVerdict {
  return {
    ok: false,
    status,
    reason,
    response: new Response(`${reason}\n`, {
      status,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        ...headers,
      },
    }),
  };
}

const NOT_PAIRED = "this device is not paired with smx: scan the QR code smx shows, " +
  "or open /pair and type the 8-digit code";

export class LanGate {
  constructor(private readonly sessions: Sessions) {}

  /**
   * `listener`: the address and port the request arrived on; `remote`: the peer's address.
   */
  async check(
    req: Request,
    listener: { address: string; port: number },
    remote: string,
  ): Promise<GateVerdict> {
    const address = remote.replace(/^::ffff:/, "");
    const own = originOf(listener.address, listener.port);
    const host = req.headers.get("host") ?? "";
    if (`http://${host.toLowerCase()}` !== own.toLowerCase()) {
      return refuse(421, `unexpected Host header ${JSON.stringify(host.slice(0, 100))}`);
    }
    const origin = req.headers.get("origin");
    const upgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    const changes = req.method !== "GET" && req.method !== "HEAD";
    if (origin !== null && origin.toLowerCase() !== own.toLowerCase()) {
      return refuse(403, `cross-origin request from ${origin.slice(0, 100)} refused`);
    }
    if (origin === null && (upgrade || changes)) {
      return refuse(403, `${upgrade ? "WebSocket" : req.method} request without Origin refused`);
    }
    const path = new URL(req.url).pathname;
    if (isLoopbackOnlyPath(path)) {
      return refuse(403, `${path} is served only on the smx machine itself`);
    }
    const cookie = sessionCookieName(listener.port);
    for (const token of cookieValues(req.headers.get("cookie"), cookie)) {
      const s = await this.sessions.find(token, address);
      if (s) return { ok: true, peer: { reach: "lan", sessionId: s.id, address } };
    }
    const pairing = (req.method === "POST" && path === PAIR_PATH) ||
      (!changes && !upgrade && PAIR_ASSETS.has(path));
    if (pairing) return { ok: true, peer: { reach: "lan", address } };
    const page = req.headers.get("sec-fetch-mode") === "navigate" ||
      (req.headers.get("accept") ?? "").includes("text/html");
    if (req.method === "GET" && !upgrade && page && (path === "/" || path === "/index.html")) {
      return refuse(303, NOT_PAIRED, { location: PAIR_PATH });
    }
    return refuse(401, NOT_PAIRED);
  }
}

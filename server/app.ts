/**
 * The HTTP surface of smx as a runtime-neutral Hono app: the UI, /hello, stats, the two
 * WebSocket endpoints (parameters and video on separate sockets, so a big frame never delays a
 * parameter), and the LAN reach's pairing and loopback-only API (lan/routes.ts). Runtime specifics
 * (listening, the upgrade itself, who the peer is, security headers) live in serve.ts, which binds
 * the peer for each request as `c.env.peer`.
 */
import { Hono } from "hono";
import type { UiAssets } from "./http/ui_assets.ts";
import type { SmxHello } from "./hello.ts";
import type { AppEnv, Peer } from "./http/peer.ts";
import { lanRoutes } from "./lan/routes.ts";
import type { LanReach } from "./lan/lan.ts";
import { type VenueControl, venueRoutes } from "./wan/venues/routes.ts";

export interface Upgraded {
  socket: WebSocket;
  response: Response;
}

export interface AppDeps {
  assets: UiAssets;
  hello(): SmxHello;
  stats(): unknown;
  upgrade(req: Request): Upgraded;
  /** A viewer's video socket; `peer` says whether it is this machine or a paired LAN device. */
  onVideoSocket(socket: WebSocket, peer: Peer): void;
  /** A page's parameter socket; `peer` as for video. */
  onParamSocket(socket: WebSocket, peer: Peer): void;
  /** The LAN reach, when smx serves the LAN (--lan). */
  lan?: LanReach;
  /** The WAN reach's venues (--wan), for the loopback-only /api/venues. */
  venues?: () => VenueControl | undefined;
}

/** A peer nobody bound is treated as the least trusted kind: a LAN peer without a session. */
const UNKNOWN_PEER: Peer = { reach: "lan", address: "" };

function upgradeOr426(
  req: Request,
  deps: AppDeps,
  peer: Peer,
  attach: (s: WebSocket, p: Peer) => void,
): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("this endpoint speaks WebSocket only", { status: 426 });
  }
  const { socket, response } = deps.upgrade(req);
  attach(socket, peer);
  return response;
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const peer = (env: AppEnv["Bindings"] | undefined) => env?.peer ?? UNKNOWN_PEER;

  app.get("/hello", (c) => {
    c.header("cache-control", "no-store");
    return c.json(deps.hello());
  });
  app.get("/api/stats", (c) => c.json(deps.stats()));
  app.get("/ws/video", (c) => upgradeOr426(c.req.raw, deps, peer(c.env), deps.onVideoSocket));
  app.get("/ws/params", (c) => upgradeOr426(c.req.raw, deps, peer(c.env), deps.onParamSocket));
  app.route("/", lanRoutes(deps.lan));
  app.route("/", venueRoutes(() => deps.venues?.()));

  app.get("*", (c) => {
    // The pairing page is /pair (its URL is in the QR code), built as /pair.html.
    const asset = deps.assets.get(c.req.path === "/pair" ? "/pair.html" : c.req.path);
    if (!asset) {
      if (deps.assets.error) return c.text(`UI build failed:\n${deps.assets.error}`, 500);
      return c.text("not found", 404);
    }
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      etag: asset.etag,
      // serve.ts adds the security headers (and no-store on /pair) to every answer.
      "cache-control": "no-cache",
    });
  });

  app.onError((err, c) => c.text(`internal error: ${err.message}`, 500));
  return app;
}

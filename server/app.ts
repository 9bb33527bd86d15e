/**
 * The HTTP surface of smx as a runtime-neutral Hono app: the UI, /hello, stats, and the two
 * WebSocket endpoints (parameters and video on separate sockets, so a big frame never delays a
 * parameter). Runtime specifics (listening, the upgrade itself, who the peer is) live in serve.ts.
 */
import { Hono } from "hono";
import type { UiAssets } from "./http/ui_assets.ts";
import type { SmxHello } from "./hello.ts";

export interface Upgraded {
  socket: WebSocket;
  response: Response;
}

export interface AppDeps {
  assets: UiAssets;
  hello(): SmxHello;
  stats(): unknown;
  upgrade(req: Request): Upgraded;
  onVideoSocket(socket: WebSocket): void;
  onParamSocket(socket: WebSocket): void;
}

function upgradeOr426(req: Request, deps: AppDeps, attach: (s: WebSocket) => void): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("this endpoint speaks WebSocket only", { status: 426 });
  }
  const { socket, response } = deps.upgrade(req);
  attach(socket);
  return response;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/hello", (c) => {
    c.header("cache-control", "no-store");
    return c.json(deps.hello());
  });
  app.get("/api/stats", (c) => c.json(deps.stats()));
  app.get("/ws/video", (c) => upgradeOr426(c.req.raw, deps, deps.onVideoSocket));
  app.get("/ws/params", (c) => upgradeOr426(c.req.raw, deps, deps.onParamSocket));

  app.get("*", (c) => {
    const asset = deps.assets.get(c.req.path);
    if (!asset) {
      if (deps.assets.error) return c.text(`UI build failed:\n${deps.assets.error}`, 500);
      return c.text("not found", 404);
    }
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      etag: asset.etag,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy":
        "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    });
  });

  app.onError((err, c) => c.text(`internal error: ${err.message}`, 500));
  return app;
}

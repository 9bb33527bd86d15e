/**
 * The engine machine's venue control (loopback only, like the LAN reach's own API):
 *
 *   GET  /api/venues            → {venues: VenueInfo[]}            (404 without --wan)
 *   POST /api/venues  OnAirMsg  → {ok: true, venue} | 400 {ok: false, message}
 *
 * The POST must be JSON: a cross-site form cannot send that content type without a CORS
 * preflight, which smx never answers; serve.ts's loopback guard refuses foreign Origins besides.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../../http/peer.ts";
import { type OnAirMsg, parseOnAirMessage, type VenueInfo } from "../../../protocol/venues.ts";

export interface VenueControl {
  list(): VenueInfo[];
  apply(m: OnAirMsg): { ok: true; venue: VenueInfo | null } | { ok: false; message: string };
}

const MAX_BODY = 4096;

export function venueRoutes(venues: () => VenueControl | undefined): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const refused = (c: Context<AppEnv>) =>
    c.env?.peer?.reach === "loopback"
      ? null
      : c.text("served only on the smx machine itself\n", 403);

  app.get("/api/venues", (c) => {
    const r = refused(c);
    if (r) return r;
    const v = venues();
    if (!v) return c.json({ ok: false, message: "no WAN reach (start smx with --wan)" }, 404);
    c.header("cache-control", "no-store");
    return c.json({ venues: v.list() });
  });

  app.post("/api/venues", async (c) => {
    const r = refused(c);
    if (r) return r;
    const v = venues();
    if (!v) return c.json({ ok: false, message: "no WAN reach (start smx with --wan)" }, 404);
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      return c.json({ ok: false, message: "send the change as JSON" }, 415);
    }
    const text = await c.req.text();
    if (text.length > MAX_BODY) return c.json({ ok: false, message: "too large" }, 413);
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return c.json({ ok: false, message: "not JSON" }, 400);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      return c.json({ ok: false, message: "not an object" }, 400);
    }
    const p = parseOnAirMessage({ v: 1, type: "onair", ...(obj as Record<string, unknown>) });
    if (!p.ok) return c.json({ ok: false, message: p.message }, 400);
    const out = v.apply(p.msg);
    return out.ok ? c.json(out) : c.json(out, 400);
  });
  return app;
}

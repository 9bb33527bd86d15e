/**
 * The LAN reach's HTTP routes (runtime-neutral Hono, mounted by app.ts):
 * - POST /pair: the secret (from the QR's fragment) or the code → a session cookie;
 * - GET /api/lan, POST /api/lan/rotate, POST /api/lan/devices/:id/disconnect, GET /qr.svg:
 *   loopback only (the LAN gate refuses them before routing; checked here again).
 * POST /pair must come as JSON: a cross-site form cannot send that content type without a CORS
 * preflight, which smx never answers — a second wall behind the LAN gate's Origin check. The
 * loopback API's POSTs take any body (the CLI and the main UI send none): the loopback guard
 * already refuses any browser request whose Origin is not smx's own, and browsers always send
 * Origin on a POST.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  type LanStatus,
  type PairError,
  type PairErrorKind,
  type PairOk,
  type PairRequest,
  sessionCookieName,
} from "../../protocol/lan.ts";
import { qrSvg } from "../../protocol/qr.ts";
import type { AppEnv } from "../http/peer.ts";
import type { LanReach } from "./lan.ts";
import { readCappedText } from "../http/capped_body.ts";

/** Bytes a pairing request may have: `{"secret":"<32 chars>"}` is 45. */
export const MAX_PAIR_BODY = 1024;
/**
 * The cookie outlives a browser restart (a tablet should stay paired while smx runs); the session
 * behind it ends with smx, a rotation or a disconnect, whichever comes first.
 */
export const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

const OFF: LanStatus = {
  enabled: false,
  port: 0,
  addresses: [],
  urls: [],
  pairingUrl: null,
  pairingUrls: [],
  code: null,
  since: 0,
  devices: [],
  connected: 0,
};

/** The peer, or a least-trusted one when a caller forgot to bind it (never trusted by default). */
function peerOf(c: Context<AppEnv>) {
  return c.env?.peer ?? { reach: "lan" as const, address: "" };
}

function pairError(
  c: Context<AppEnv>,
  status: 400 | 401 | 404 | 413 | 415 | 429 | 503,
  error: PairErrorKind,
  message: string,
  retryAfterS?: number,
) {
  const body: PairError = { ok: false, error, message, ...(retryAfterS ? { retryAfterS } : {}) };
  if (retryAfterS) c.header("retry-after", String(retryAfterS));
  return c.json(body, status);
}

function isJson(c: Context<AppEnv>): boolean {
  return (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase() ===
    "application/json";
}

function parsePairRequest(text: string): PairRequest | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.secret === "string" && o.secret.length <= 128) return { secret: o.secret };
  if (typeof o.code === "string" && o.code.length <= 32) return { code: o.code };
  return null;
}

export function lanRoutes(lan: LanReach | undefined): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const loopbackOnly = (c: Context<AppEnv>) =>
    peerOf(c).reach === "loopback" ? null : c.text("served only on the smx machine itself\n", 403);

  app.post("/pair", async (c) => {
    if (!lan) return pairError(c, 404, "off", "smx is not serving the LAN (start it with --lan)");
    if (!isJson(c)) return pairError(c, 415, "bad_request", "send the pairing as JSON");
    const text = await readCappedText(c.req.raw, MAX_PAIR_BODY);
    if (text === null) return pairError(c, 413, "bad_request", "pairing request too large");
    const req = parsePairRequest(text);
    if (!req) return pairError(c, 400, "bad_request", 'send {"secret": "…"} or {"code": "…"}');
    const peer = peerOf(c);
    if (peer.reach === "loopback") {
      // This machine is trusted without pairing (and can read the secret anyway).
      return c.json({ ok: true, device: null } satisfies PairOk);
    }
    const userAgent = c.req.header("user-agent") ?? "";
    const out = await lan.pairing.pair(req, { address: peer.address, userAgent });
    switch (out.kind) {
      case "paired": {
        lan.log(
          `LAN device ${out.session.id} paired from ${peer.address} (${userAgent.slice(0, 80)})`,
        );
        c.header(
          "set-cookie",
          `${sessionCookieName(lan.port)}=${out.token}; HttpOnly; SameSite=Strict; Path=/; ` +
            `Max-Age=${COOKIE_MAX_AGE_S}`,
        );
        return c.json({ ok: true, device: out.session.id } satisfies PairOk);
      }
      case "wrong":
        return pairError(
          c,
          401,
          "wrong",
          "that pairing code or QR code is wrong or has expired: scan the QR code smx shows now, " +
            "or type its code",
        );
      case "rate_limited":
        return pairError(
          c,
          429,
          "rate_limited",
          `too many wrong pairing attempts: try again in ${out.retryAfterS} s`,
          out.retryAfterS,
        );
      case "too_many_devices":
        return pairError(
          c,
          503,
          "too_many_devices",
          "smx has as many connected devices as it remembers: disconnect one on the smx machine",
        );
    }
  });

  app.get("/api/lan", (c) => loopbackOnly(c) ?? c.json(lan?.status() ?? OFF));

  app.post("/api/lan/rotate", (c) => {
    const refused = loopbackOnly(c);
    if (refused) return refused;
    if (!lan) return c.text("smx is not serving the LAN (start it with --lan)\n", 404);
    return c.json(lan.rotate());
  });

  app.post("/api/lan/devices/:id/disconnect", (c) => {
    const refused = loopbackOnly(c);
    if (refused) return refused;
    const ok = lan?.disconnect(c.req.param("id")) ?? false;
    return c.json({ ok }, ok ? 200 : 404);
  });

  app.get("/qr.svg", (c) => {
    const refused = loopbackOnly(c);
    if (refused) return refused;
    const m = lan?.qrMatrix();
    if (!m) return c.text("no pairing QR: smx is not serving the LAN (start it with --lan)\n", 404);
    return c.body(qrSvg(m), 200, { "content-type": "image/svg+xml" });
  });

  return app;
}

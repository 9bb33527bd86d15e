/**
 * Which requests the site answers at all, checked before routing:
 * - `Host` must name the public origin (DNS rebinding: another name pointing at us must not get
 *   our pages or answers). A trusted proxy that rewrites Host (Authentik's own proxy mode) says
 *   the original one in `X-Forwarded-Host`, which is then the one checked; from anybody else that
 *   header is ignored.
 * - `Origin`, when present, must be the public origin (cross-site POSTs and WebSocket hijacking).
 * - `Sec-Fetch-Site: cross-site` on the API is refused too (a cross-site GET carries no Origin).
 * No CORS: nothing here or anywhere in the site ever sends an Access-Control-* header.
 */
import { isTrustedPeer } from "./auth.ts";
import type { SiteConfig } from "./config.ts";

export interface Verdict {
  ok: boolean;
  status?: number;
  reason?: string;
}

/** "example.com:443" with scheme https → "example.com" (URL's own default-port rule). */
function normalHost(host: string, protocol: string): string | null {
  if (!host || /[\s/\\@?#]/.test(host)) return null;
  try {
    return new URL(`${protocol}//${host}`).host;
  } catch {
    return null;
  }
}

export function checkRequest(
  req: Request,
  peer: string,
  cfg: Pick<SiteConfig, "publicOrigin" | "trustedProxies">,
): Verdict {
  const pub = new URL(cfg.publicOrigin);
  const forwarded = isTrustedPeer(peer, cfg.trustedProxies)
    ? req.headers.get("x-forwarded-host")?.split(",")[0].trim()
    : undefined;
  const hostHeader = forwarded || req.headers.get("host") || "";
  if (normalHost(hostHeader, pub.protocol) !== pub.host) {
    return {
      ok: false,
      status: 421,
      reason: `not this site's host: ${JSON.stringify(hostHeader)}`,
    };
  }
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== cfg.publicOrigin) {
    return { ok: false, status: 403, reason: `cross-origin request from ${origin} refused` };
  }
  const path = new URL(req.url).pathname;
  if (path.startsWith("/api/") && req.headers.get("sec-fetch-site") === "cross-site") {
    return { ok: false, status: 403, reason: "cross-site request refused" };
  }
  return { ok: true };
}

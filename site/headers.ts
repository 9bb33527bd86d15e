/**
 * The site's response headers: smx's own set (server/http/security_headers.ts: nosniff, no
 * Referer, no framing, same-origin CORP, no-store on the API and refusals, every Access-Control-*
 * header removed) with a Content-Security-Policy that also lets the page connect to the
 * configured LiveKit and Centrifugo servers: each by WebSocket and by HTTP(S) on the same host
 * (livekit-client checks a failed join over HTTP; Centrifugo's fallbacks are HTTP). Scripts and
 * workers stay 'self' ('wasm-unsafe-eval' for the WASM H.264 decoder, as in smx).
 */
import { secured } from "../server/http/security_headers.ts";
import type { SiteConfig } from "./config.ts";

const PAIR: Record<string, string> = {
  "ws:": "http:",
  "wss:": "https:",
  "http:": "ws:",
  "https:": "wss:",
};

/** The origins a page may connect to for one server URL: its own scheme and its pair. */
function connectOrigins(url: string): string[] {
  const u = new URL(url);
  const other = new URL(url);
  other.protocol = PAIR[u.protocol];
  return [`${u.protocol}//${u.host}`, `${other.protocol}//${u.host}`];
}

export function sitePolicy(cfg: Pick<SiteConfig, "livekit" | "centrifugo">): string {
  const connect = [
    ...new Set([...connectOrigins(cfg.livekit.url), ...connectOrigins(cfg.centrifugo.url)]),
  ];
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    `connect-src 'self' ${connect.join(" ")}`,
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

export function securedSite(res: Response, path: string, policy: string): Response {
  const out = secured(res, path);
  if (out.status !== 101) out.headers.set("content-security-policy", policy);
  return out;
}

/**
 * Request checks for the engine's HTTP/WS listener: Host (DNS rebinding), Origin (cross-site
 * WebSocket hijacking from a page in the user's browser) and the per-launch token.
 */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function hostname(hostHeader: string): string {
  // "[::1]:47800" → "[::1]"; "127.0.0.1:47800" → "127.0.0.1"
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  const i = hostHeader.lastIndexOf(":");
  return (i >= 0 ? hostHeader.slice(0, i) : hostHeader).toLowerCase();
}

export interface GuardOptions {
  token: string;
  /** True when the engine listens on loopback only; then Host must be a loopback name. */
  loopbackOnly: boolean;
}

/** Returns a refusal Response, or null when the request may proceed (token not checked here). */
export function checkHostAndOrigin(req: Request, opts: GuardOptions): Response | null {
  const host = req.headers.get("host");
  if (opts.loopbackOnly && (!host || !LOOPBACK_HOSTS.has(hostname(host)))) {
    return new Response(`refused: Host ${JSON.stringify(host)} is not a loopback name\n`, {
      status: 421,
    });
  }
  const origin = req.headers.get("origin");
  if (origin !== null) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === "http:" || u.protocol === "https:") &&
        LOOPBACK_HOSTS.has(u.hostname.toLowerCase());
    } catch { /* "null" or garbage */ }
    if (!ok) {
      return new Response(`refused: Origin ${JSON.stringify(origin)} is not allowed\n`, {
        status: 403,
      });
    }
  }
  return null;
}

/** Token from `Authorization: Bearer …` or `?token=`. */
export function requestToken(req: Request, url: URL): string | null {
  const auth = req.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  return url.searchParams.get("token");
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
export function tokenMatches(given: string | null, token: string): boolean {
  if (given === null || given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  return diff === 0;
}

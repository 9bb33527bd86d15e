/**
 * Who may talk to smx. A local server is attacked through the user's own browser, so every
 * request and upgrade is checked before routing:
 * - the peer must be on loopback (other reaches come with their own token rule);
 * - `Host` must name this server by a loopback name (blocks DNS rebinding, where evil.example
 *   resolves to 127.0.0.1 and its page reads our answers);
 * - `Origin`, when a browser sends one, must be one of our own origins (blocks cross-site
 *   WebSocket hijacking and cross-site writes; non-browser clients send none).
 */

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackAddress(addr: string): boolean {
  const a = addr.replace(/^::ffff:/, "");
  return a === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Splits a Host header value into name and port ("[::1]:80" → ["[::1]", "80"]). */
export function splitHost(host: string): [string, string] {
  const m = /^(\[[^\]\s]+\]|[^:\s/\[\]]+)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  return m ? [m[1], m[2] ?? ""] : ["", ""];
}

export interface GuardVerdict {
  ok: boolean;
  status?: number;
  reason?: string;
}

export class LoopbackGuard {
  constructor(private readonly port: () => number) {}

  #isOurHost(host: string): boolean {
    const [name, port] = splitHost(host);
    const loopbackName = LOOPBACK_NAMES.has(name) || name.endsWith(".localhost");
    return loopbackName && (port === "" ? this.port() === 80 : Number(port) === this.port());
  }

  check(req: Request, remoteAddr: string): GuardVerdict {
    if (!isLoopbackAddress(remoteAddr)) {
      return { ok: false, status: 403, reason: `only loopback clients are served (${remoteAddr})` };
    }
    const host = req.headers.get("host") ?? "";
    if (!this.#isOurHost(host)) {
      return { ok: false, status: 421, reason: `unexpected Host header ${JSON.stringify(host)}` };
    }
    const origin = req.headers.get("origin");
    if (origin !== null) {
      let originHost = "";
      try {
        const u = new URL(origin);
        originHost = u.protocol === "http:" || u.protocol === "https:" ? u.host : "";
      } catch { /* fall through: refused below */ }
      if (!originHost || !this.#isOurHost(originHost)) {
        return { ok: false, status: 403, reason: `cross-origin request from ${origin} refused` };
      }
    }
    return { ok: true };
  }
}

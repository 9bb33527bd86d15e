/**
 * ICE servers from a WHIP answer's `Link: <url>; rel="ice-server"` headers (RFC 9725 §4.6).
 *
 * How LiveKit writes them (pkg/service/whipservice.go, v1.13.5): one Link per URL, the URL passed
 * through Go's url.PathEscape (so `turn:host:3478?transport=udp` arrives as
 * `turn:host:3478%3Ftransport=udp`), and `username` / `credential` as quoted parameters when the
 * server has them (TURN). Several headers reach fetch() joined by ", ", so link-values are split
 * on commas outside <…> and quotes.
 */

export interface IceServer {
  urls: string;
  username?: string;
  credential?: string;
}

/** Splits `s` on `sep` where it is outside <…> and "…". */
function splitOutside(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "", angle = false, quote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\" && i + 1 < s.length) {
        cur += c + s[++i];
        continue;
      }
      if (c === '"') quote = false;
    } else if (c === '"') quote = true;
    else if (c === "<") angle = true;
    else if (c === ">") angle = false;
    else if (c === sep && !angle) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  v = v.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return v;
}

function decode(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url; // not percent-encoded after all: use it as written
  }
}

/** ICE servers named by the Link header value(s); other relations are ignored. */
export function parseIceServerLinks(linkHeader: string | null): IceServer[] {
  if (!linkHeader) return [];
  const servers: IceServer[] = [];
  for (const value of splitOutside(linkHeader, ",")) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(value);
    if (!m) continue;
    const params = new Map<string, string>();
    for (const p of splitOutside(m[2], ";")) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      params.set(p.slice(0, eq).trim().toLowerCase(), unquote(p.slice(eq + 1)));
    }
    const rels = (params.get("rel") ?? "").toLowerCase().split(/\s+/);
    if (!rels.includes("ice-server")) continue;
    const urls = decode(m[1].trim());
    if (!/^(stuns?|turns?):/i.test(urls)) continue;
    const s: IceServer = { urls };
    const username = params.get("username"), credential = params.get("credential");
    if (username !== undefined) s.username = username;
    if (credential !== undefined) s.credential = credential;
    servers.push(s);
  }
  return servers;
}

/** A stable key for a list of ICE servers (to tell whether a new answer changed them). */
export function iceServersKey(servers: IceServer[]): string {
  return JSON.stringify(
    servers.map((s) => [s.urls, s.username ?? "", s.credential ?? ""]).sort(),
  );
}

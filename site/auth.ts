/**
 * Who is signed in: the SSO proxy in front of the site (forward auth) signs the user in and
 * passes who it is in request headers. Those headers are believed only on a connection from one
 * of the configured proxy addresses; from anyone else they are ignored, whatever they say (a
 * client that reaches the site directly could otherwise name itself anybody).
 *
 * Two presets, both overridable header by header:
 * - authentik: Authentik's proxy outpost (forward auth behind Caddy, Traefik or nginx):
 *   X-authentik-uid (the id), -username, -name, -email, -groups (pipe-separated);
 * - oauth2-proxy: oauth2-proxy in front of any OIDC provider (the site's "own OIDC login"):
 *   X-Forwarded-User (the id: the OIDC subject or email, as oauth2-proxy is set),
 *   -Preferred-Username, -Email, -Groups (comma-separated, or one header per group).
 */
import type { SessionInfo } from "../protocol/wan.ts";
import { engineUser } from "../protocol/wan.ts";
import type { SiteConfig } from "./config.ts";
import { inRange, type IpRange } from "./ip.ts";

export interface HeaderNames {
  /** The stable user id (Centrifugo `sub`, LiveKit identity). */
  id: string;
  username: string;
  name: string;
  email: string;
  groups: string;
}

export type HeaderPreset = "authentik" | "oauth2-proxy";

export const HEADER_PRESETS: Record<
  HeaderPreset,
  { headers: HeaderNames; groupsSeparator: string; login: string }
> = {
  authentik: {
    headers: {
      id: "X-authentik-uid",
      username: "X-authentik-username",
      name: "X-authentik-name",
      email: "X-authentik-email",
      groups: "X-authentik-groups",
    },
    groupsSeparator: "|",
    login: "/outpost.goauthentik.io/start?rd=/",
  },
  "oauth2-proxy": {
    headers: {
      id: "X-Forwarded-User",
      username: "X-Forwarded-Preferred-Username",
      name: "X-Forwarded-Preferred-Username",
      email: "X-Forwarded-Email",
      groups: "X-Forwarded-Groups",
    },
    groupsSeparator: ",",
    login: "/oauth2/start?rd=/",
  },
};

export type User = SessionInfo["user"];

const MAX_ID = 256;
const MAX_TEXT = 256;
const MAX_GROUPS = 256;

export function isTrustedPeer(address: string, trusted: IpRange[]): boolean {
  return trusted.some((r) => inRange(address, r));
}

/**
 * Header values are bytes; Deno hands them over one char per byte. A proxy that writes a UTF-8
 * name ("Zoë") is read back as UTF-8; anything else stays as it came.
 */
function text(v: string | null): string {
  if (v === null) return "";
  let s = v;
  if (/[\x80-\xff]/.test(v) && ![...v].some((c) => c.charCodeAt(0) > 0xff)) {
    try {
      s = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(v, (c) => c.charCodeAt(0)),
      );
    } catch { /* not UTF-8: keep it */ }
  }
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, "").trim();
}

/**
 * The signed-in user of a request that came from `peer`, or null (not from a trusted proxy, no
 * id header, or an id that could pose as something else).
 */
export function identityOf(
  headers: Headers,
  peer: string,
  cfg: Pick<SiteConfig, "trustedProxies" | "auth">,
): User | null {
  if (!isTrustedPeer(peer, cfg.trustedProxies)) return null;
  const h = cfg.auth.headers;
  const id = text(headers.get(h.id));
  if (!id || id.length > MAX_ID) return null;
  // smx's own Centrifugo user is "engine:<id>": its presence says an engine is online. A person
  // whose id looks like that would make an engine look online (and could be taken for it).
  if (id.startsWith(engineUser(""))) return null;
  // A public site's anonymous visitors are "anon:<random>" (audience.ts): not a person's id.
  if (id.startsWith("anon:")) return null;
  const username = text(headers.get(h.username)).slice(0, MAX_TEXT);
  const name = text(headers.get(h.name)).slice(0, MAX_TEXT) || username || id;
  const email = text(headers.get(h.email)).slice(0, MAX_TEXT);
  const groups = text(headers.get(h.groups))
    .split(cfg.auth.groupsSeparator)
    .map((g) => g.trim())
    .filter(Boolean)
    .slice(0, MAX_GROUPS);
  return { id, name, ...(email ? { email } : {}), groups };
}

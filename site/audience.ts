/**
 * Roles and the public site's anonymous mint (issue 11).
 *
 * - roleOf: an operator is a member of any `operators.groups` (every signed-in user when the
 *   config has no `operators`); everybody else, and every anonymous visitor, is a viewer.
 * - AnonymousMint: on a `public` site a visitor without a sign-in is `anon:<random>`, carried in
 *   an HttpOnly cookie signed with the Centrifugo token secret (HMAC-SHA-256), so that the page's
 *   connection and subscription tokens name the same Centrifugo user. Every anonymous token
 *   request spends a token from the visitor address's bucket and from the global one; an empty
 *   bucket is a 429 JSON with Retry-After. The address is the peer's, or, from a trusted proxy,
 *   the last X-Forwarded-For entry (the one that proxy added).
 */
import { KeyedBuckets, TokenBucket } from "../protocol/audience.ts";
import type { SessionRole } from "../protocol/wan.ts";
import { isTrustedPeer, type User } from "./auth.ts";
import type { SiteConfig } from "./config.ts";

export function roleOf(user: User, anonymous: boolean, cfg: SiteConfig): SessionRole {
  if (anonymous) return "viewer";
  if (!cfg.operators) return "operator";
  return user.groups.some((g) => cfg.operators!.groups.includes(g)) ? "operator" : "viewer";
}

export const ANON_COOKIE = "smx_anon";
export const ANON_PREFIX = "anon:";

/** The client's address: the peer, or the last X-Forwarded-For hop a trusted proxy added. */
export function clientAddress(headers: Headers, peer: string, cfg: SiteConfig): string {
  if (!isTrustedPeer(peer, cfg.trustedProxies)) return peer;
  const hops = (headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(
    Boolean,
  );
  return hops.at(-1) ?? peer;
}

function hex(b: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export type MintVerdict = { ok: true } | { ok: false; retryAfterS: number; scope: string };

export class AnonymousMint {
  #key: Promise<CryptoKey>;
  #perAddress: KeyedBuckets;
  #global: TokenBucket;
  constructor(private cfg: SiteConfig) {
    const m = cfg.public!;
    this.#perAddress = new KeyedBuckets(m.perAddress.burst, m.perAddress.perMinute / 60);
    this.#global = new TokenBucket(m.global.burst, m.global.perSecond);
    this.#key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(`smx anonymous viewer\0${cfg.centrifugo.tokenSecret}`),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  async #mac(id: string): Promise<string> {
    const sig = await crypto.subtle.sign("HMAC", await this.#key, new TextEncoder().encode(id));
    return hex(sig).slice(0, 32);
  }

  /** The visitor's anonymous id from a valid cookie, else null. */
  async idFrom(headers: Headers): Promise<string | null> {
    const cookie = headers.get("cookie") ?? "";
    const m = new RegExp(`(?:^|;\\s*)${ANON_COOKIE}=([0-9a-f]{16})\\.([0-9a-f]{32})(?:;|$)`).exec(
      cookie,
    );
    if (!m) return null;
    return (await this.#mac(m[1])) === m[2] ? m[1] : null;
  }

  /** A new anonymous id and the Set-Cookie that carries it. */
  async issue(): Promise<{ id: string; setCookie: string }> {
    const id = hex(crypto.getRandomValues(new Uint8Array(8)));
    const secure = this.cfg.publicOrigin.startsWith("https:") ? "; Secure" : "";
    return {
      id,
      setCookie: `${ANON_COOKIE}=${id}.${await this.#mac(id)}; Path=/api/wan; HttpOnly; ` +
        `SameSite=Strict; Max-Age=86400${secure}`,
    };
  }

  /** Spends one mint from the address's bucket and the global one. */
  take(address: string, nowMs = Date.now()): MintVerdict {
    const a = this.#perAddress.take(address, nowMs);
    if (!a.ok) return { ok: false, retryAfterS: a.retryAfterS, scope: "this address" };
    const g = this.#global.take(nowMs);
    if (!g.ok) return { ok: false, retryAfterS: g.retryAfterS, scope: "the site" };
    return { ok: true };
  }
}

export function anonymousUser(id: string): User {
  return { id: `${ANON_PREFIX}${id}`, name: "guest", groups: [] };
}

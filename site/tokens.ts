/**
 * The short-lived tokens the site mints for a signed-in user (never a secret, only what a secret
 * signed):
 * - LiveKit: a viewer of one engine's room. Identity `viewer:<user>:<random>` (one per page, so
 *   two tabs of one user do not kick each other out), join that room only, subscribe yes, publish
 *   and data no, hidden (viewers do not appear in each other's participant lists).
 * - Centrifugo connection: `sub` = the user id, `info.name`, `exp`.
 * - Centrifugo subscription: one of an engine's three channels (`channel`, `sub`, `exp`); the
 *   caller checks the user may open that engine. On smx_ctl this token is also the publish grant
 *   (the namespace allows publishing to subscribers).
 * `expiresAt` in the API's answers is milliseconds since the epoch; the tokens' `exp` is seconds.
 */
import { AccessToken } from "livekit-server-sdk";
import { roomOf } from "../protocol/wan.ts";
import { signHs256 } from "../server/wan/jwt.ts";
import type { SiteConfig } from "./config.ts";
import type { User } from "./auth.ts";

export interface Minted {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

type TokenConfig = Pick<SiteConfig, "livekit" | "centrifugo" | "tokenTtlSeconds">;

function randomTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export const VIEWER_PREFIX = "viewer:";

export async function livekitViewerToken(
  cfg: TokenConfig,
  user: User,
  engine: string,
  nowMs = Date.now(),
): Promise<Minted & { room: string; identity: string }> {
  const room = roomOf(engine);
  const identity = `${VIEWER_PREFIX}${user.id}:${randomTag()}`;
  const at = new AccessToken(cfg.livekit.apiKey, cfg.livekit.apiSecret, {
    identity,
    name: user.name,
    ttl: cfg.tokenTtlSeconds,
  });
  at.addGrant({
    roomJoin: true,
    room,
    canSubscribe: true,
    canPublish: false,
    canPublishData: false,
    canUpdateOwnMetadata: false,
    hidden: true,
  });
  const token = await at.toJwt();
  // The SDK stamps exp from its own clock at toJwt(); ours is read before, so never later.
  return { token, room, identity, expiresAt: nowMs + cfg.tokenTtlSeconds * 1000 };
}

export async function centrifugoConnectionToken(
  cfg: TokenConfig,
  user: User,
  nowMs = Date.now(),
): Promise<Minted> {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + cfg.tokenTtlSeconds;
  const token = await signHs256(
    { sub: user.id, iat, exp, info: { name: user.name } },
    cfg.centrifugo.tokenSecret,
  );
  return { token, expiresAt: exp * 1000 };
}

export async function centrifugoSubscriptionToken(
  cfg: TokenConfig,
  user: User,
  channel: string,
  nowMs = Date.now(),
): Promise<Minted> {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + cfg.tokenTtlSeconds;
  const token = await signHs256(
    { sub: user.id, channel, iat, exp },
    cfg.centrifugo.tokenSecret,
  );
  return { token, expiresAt: exp * 1000 };
}

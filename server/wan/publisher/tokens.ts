/**
 * LiveKit publish tokens for smx's WHIP sessions, signed here from the API key and secret
 * (livekit-server-sdk's AccessToken: LiveKit's grant format is its own, so the SDK writes it).
 *
 * A token is minted for every request (POST and DELETE) rather than cached: it costs one HMAC,
 * and a reconnect an hour later, or a DELETE at shutdown, can never present an expired one. LiveKit
 * checks the token when a request arrives; a running WHIP session does not depend on it after
 * that, so a short lifetime limits what a leaked token is good for without ending anything.
 */
import { AccessToken } from "livekit-server-sdk";
import { type PublishedRendition, publisherIdentity, roomOf } from "../../../protocol/wan.ts";

/** Token lifetime: only needs to outlive the request it is minted for. */
export const PUBLISH_TOKEN_TTL_S = 10 * 60;

export interface LiveKitKeys {
  apiKey: string;
  apiSecret: string;
}

/** A token that may publish (only) into the engine's room as the rendition's publisher. */
export async function publishToken(
  keys: LiveKitKeys,
  engine: string,
  rendition: PublishedRendition,
): Promise<string> {
  const identity = publisherIdentity(rendition);
  const at = new AccessToken(keys.apiKey, keys.apiSecret, {
    identity,
    // What LiveKit's UIs show; the identity is what pages match on.
    name: `${rendition.source} ${rendition.width}x${rendition.height}@${rendition.fps}`,
    ttl: PUBLISH_TOKEN_TTL_S,
  });
  at.addGrant({
    roomJoin: true,
    room: roomOf(engine),
    canPublish: true,
    // A WHIP publisher never subscribes, and smx sends no data messages.
    canSubscribe: false,
    canPublishData: false,
  });
  return await at.toJwt();
}

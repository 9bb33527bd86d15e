/**
 * The Centrifugo v6 configuration the WAN reach needs (v6 JSON format, checked against
 * centrifugal/centrifugo v6.9.1's config structs and `centrifugo checkconfig`). The test set-up
 * writes it; centrifugo.sample.json is its output for a production-like host; docs/wan.md shows
 * the same.
 *
 * Per engine, three namespaces, none of which lets anyone subscribe without a subscription token
 * (allow_subscribe_for_client stays false), so the site's tokens are the whole access control:
 *  - smx_state: one publication kept (history_size 1) and handed to every (re)subscriber
 *    (force_recovery + force_recovery_mode "cache" + auto_cache_recover: without the last one a
 *    first subscribe carries no recover flag and gets nothing — the page would have to pass an
 *    empty `since`). history_ttl must outlast smx's state refresh (60 s by default). Fossil delta
 *    is allowed (allowed_delta_types): a subscriber asking delta: "fossil" gets only the change
 *    of a publication smx sends with delta: true (bench:audience --delta: −58 % bytes per viewer).
 *  - smx_params: live only, no history (a page that missed a delta has the state). smx tags an
 *    ack/error with `to` (= the data's `to`); with allow_tags_filter a page can subscribe with
 *    {op:"or", nodes:[{key:"to",cmp:"nex"},{key:"to",cmp:"eq",val:<its client id>}]} and not
 *    receive every other page's answers.
 *  - smx_ctl: subscribers may publish (allow_publish_for_subscriber; OSS has no per-channel
 *    publish caps, so the subscription token is the publish grant) and presence is on (smx's
 *    own subscription there is how the site knows an engine is online). Every subscriber gets
 *    every page's publications (pointer moves at 120 Hz, demand…); allow_tags_filter lets a page
 *    subscribe with a filter no publication matches ({key:"smx",cmp:"ex"}: client publications
 *    carry no tags) so N pages do not cost N² messages.
 * Audience mode (issue 11; protocol/audience.ts):
 *  - smx_react: any connected client publishes without subscribing (allow_publish_for_client);
 *    subscribing needs a token only smx signs for itself, so only smx reads the raw reactions.
 *  - smx_aud: smx's batches; presence on for the viewer count (presence_stats), join/leave off.
 * channel_regex holds the part after the namespace to ENGINE_ID_RE.
 *
 * Several nodes: `redis` switches the engine (broker + presence) to Redis; every node gets the
 * same config and they share state, history and presence through it.
 */
import { AUDIENCE_NAMESPACES } from "../../../protocol/audience.ts";
import { NAMESPACES } from "../../../protocol/wan.ts";

export interface CentrifugoConfigOptions {
  /** Listen address (tests: 127.0.0.1). */
  address: string;
  port: number;
  /** HMAC secret for connection and subscription tokens (smx and the site sign with it). */
  tokenSecret: string;
  /** Server API key (smx's publishes, the site's presence calls). */
  apiKey: string;
  /** Origins whose pages may connect (the site's origin, e.g. https://smx.example.com). */
  allowedOrigins: string[];
  /** Redis engine for several nodes, e.g. { address: "redis://127.0.0.1:6379" }. */
  redis?: { address: string; prefix?: string };
  /** How long smx_state's one publication is kept (default "24h"). */
  stateHistoryTtl?: string;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Unique per node in a cluster (defaults to host:port). */
  nodeName?: string;
}

/** The part of a channel name after the namespace: ENGINE_ID_RE, in Go's regexp syntax. */
const ENGINE_CHANNEL_REGEX = "^[a-z0-9][a-z0-9_-]{0,47}$";

export function centrifugoConfig(o: CentrifugoConfigOptions): Record<string, unknown> {
  return {
    http_server: { address: o.address, port: o.port },
    log: { level: o.logLevel ?? "info" },
    ...(o.nodeName ? { node: { name: o.nodeName } } : {}),
    client: {
      token: { hmac_secret_key: o.tokenSecret },
      allowed_origins: o.allowedOrigins,
      // Pages are signed-in users and smx is engine:<id>: a token without `sub` is a mistake.
      disallow_anonymous_connection_tokens: true,
    },
    http_api: { key: o.apiKey },
    health: { enabled: true },
    usage_stats: { disabled: true },
    engine: o.redis
      ? {
        type: "redis",
        redis: { address: [o.redis.address], prefix: o.redis.prefix ?? "centrifugo" },
      }
      : { type: "memory" },
    channel: {
      namespaces: [
        {
          name: NAMESPACES.state,
          history_size: 1,
          history_ttl: o.stateHistoryTtl ?? "24h",
          force_recovery: true,
          force_recovery_mode: "cache",
          auto_cache_recover: true,
          // Fossil deltas for subscribers that ask (delta: "fossil") when smx publishes with
          // delta: true: a full state whose values barely change costs a few bytes (docs/scale.md).
          allowed_delta_types: ["fossil"],
          channel_regex: ENGINE_CHANNEL_REGEX,
        },
        {
          name: NAMESPACES.params,
          allow_tags_filter: true,
          channel_regex: ENGINE_CHANNEL_REGEX,
        },
        {
          name: NAMESPACES.ctl,
          presence: true,
          allow_publish_for_subscriber: true,
          allow_tags_filter: true,
          channel_regex: ENGINE_CHANNEL_REGEX,
        },
        {
          name: AUDIENCE_NAMESPACES.react,
          allow_publish_for_client: true,
          channel_regex: ENGINE_CHANNEL_REGEX,
        },
        {
          name: AUDIENCE_NAMESPACES.aud,
          presence: true,
          channel_regex: ENGINE_CHANNEL_REGEX,
        },
      ],
    },
  };
}

/**
 * The WAN reach's wire contract (runtime-neutral: imported by smx's publisher and relay, the site
 * and the browser UI). Full description: docs/wan.md.
 *
 * smx only dials out. Video: one WHIP session per published rendition into the engine's LiveKit
 * room; the participant identity names the rendition, so a page finds the track it asked for in the
 * room's participant list (late joiners included) without any catalog. Parameters and demand: three
 * Centrifugo channels per engine, all needing a subscription token the site mints:
 *
 *   smx_state:<engine>   smx → pages   the parameter `snapshot` (params.ts), history 1 with cache
 *                                      recovery: a late joiner gets the current state on subscribe
 *   smx_params:<engine>  smx → pages   `delta` and `link` as they happen; `ack` / `error` for a
 *                                      page's write, addressed by `to` (the writer's client id)
 *   smx_ctl:<engine>     pages → smx   `set`, `sync` (params.ts), `demand`, `keyframe`; subscribers may
 *                                      publish (the subscription token is the grant); smx reads it
 *                                      with presence on, which is how the site knows it is online
 *
 * smx publishes to smx_state and smx_params through Centrifugo's server API (pages cannot) and
 * reads smx_ctl with its own client connection, as user `engineUser(engine)`.
 */
import type {
  LinkMsg,
  ParamError,
  PointerChannels,
  ServerMsg,
  SetMsg,
  SnapshotMsg,
  SyncMsg,
} from "./params.ts";
import { PARAMS_WIRE_VERSION, parseClientMessage } from "./params.ts";
import type { Rendition } from "./size_classes.ts";
import { demandError } from "./size_classes.ts";

export const WAN_WIRE_VERSION = 1;

// ---------------------------------------------------------------- names

/** Engine ids: what the site lists and what names the room and channels. */
export const ENGINE_ID_RE = /^[a-z0-9][a-z0-9_-]{0,47}$/;

export const NAMESPACES = {
  state: "smx_state",
  params: "smx_params",
  ctl: "smx_ctl",
} as const;
export type ChannelKind = keyof typeof NAMESPACES;

export function channelOf(kind: ChannelKind, engine: string): string {
  return `${NAMESPACES[kind]}:${engine}`;
}

/** The engine a channel belongs to and its kind, or null for any other channel. */
export function parseChannel(channel: string): { kind: ChannelKind; engine: string } | null {
  const m = /^([a-z_]+):(.+)$/.exec(channel);
  if (!m || !ENGINE_ID_RE.test(m[2])) return null;
  for (const [kind, ns] of Object.entries(NAMESPACES)) {
    if (ns === m[1]) return { kind: kind as ChannelKind, engine: m[2] };
  }
  return null;
}

/** The LiveKit room of an engine. */
export const roomOf = (engine: string): string => `smx-${engine}`;

/** smx's own Centrifugo user (its presence in smx_ctl says the engine is online). */
export const engineUser = (engine: string): string => `engine:${engine}`;

/** A published rendition: the source and its size class (H.264 Constrained Baseline). */
export interface PublishedRendition extends Rendition {
  source: string;
}

const IDENTITY_PREFIX = "smx/";

/** The LiveKit participant identity of smx's WHIP session for a rendition. */
export function publisherIdentity(r: PublishedRendition): string {
  return `${IDENTITY_PREFIX}${r.source}@${r.width}x${r.height}@${r.fps}`;
}

/** The rendition a participant publishes, or null when it is not one of smx's publishers. */
export function parsePublisherIdentity(identity: string): PublishedRendition | null {
  if (!identity.startsWith(IDENTITY_PREFIX)) return null;
  const m = /^(.+)@(\d{1,5})x(\d{1,5})@(\d{1,3})$/.exec(identity.slice(IDENTITY_PREFIX.length));
  if (!m) return null;
  return { source: m[1], width: Number(m[2]), height: Number(m[3]), fps: Number(m[4]) };
}

// ---------------------------------------------------------------- pages → smx (smx_ctl)

/** Largest publication smx accepts on smx_ctl (Centrifugo's own cap is set in its config). */
export const MAX_CTL_BYTES = 16 * 1024;
/** Tiles one page may ask for at once. */
export const MAX_DEMAND_TILES = 16;
/** A page repeats its demand this often; smx forgets a page silent for DEMAND_EXPIRY_MS. */
export const DEMAND_HEARTBEAT_MS = 5000;
export const DEMAND_EXPIRY_MS = 15000;
/** A rendition nobody has asked for this long is unpublished (default; configurable in smx). */
export const UNPUBLISH_AFTER_MS = 10000;

/** One tile's demand, in device pixels, as the local reach's `subscribe` asks it. */
export interface TileDemand {
  source: string;
  width: number;
  height: number;
  fps: number;
}

/** A page's whole demand (replaces its previous one; `tiles: []` asks for nothing). */
export interface DemandMsg {
  v: typeof WAN_WIRE_VERSION;
  type: "demand";
  tiles: TileDemand[];
}

/** A page cannot decode a rendition until its next IDR (loss, a decoder error). */
export interface KeyframeMsg {
  v: typeof WAN_WIRE_VERSION;
  type: "keyframe";
  identity: string;
}

/** `sync` (a page saw a gap): smx republishes smx_state (at most once a second for all pages). */
export type CtlMsg = SetMsg | SyncMsg | DemandMsg | KeyframeMsg;

export type CtlParsed = { ok: true; msg: CtlMsg } | { ok: false; error: ParamError; id?: number };

const bad = (message: string): CtlParsed => ({
  ok: false,
  error: { code: "bad_message", message },
});

/**
 * Parses one smx_ctl publication's data (Centrifugo hands JSON data over as text or as an
 * already-parsed value; both are accepted). `set` is checked by params.ts's own parser, so a
 * remote write is held to exactly the rules of a local one.
 */
export function parseCtlMessage(data: unknown): CtlParsed {
  let text: string;
  try {
    text = typeof data === "string" ? data : JSON.stringify(data);
  } catch {
    return bad("not JSON");
  }
  if (text === undefined) return bad("empty publication");
  if (text.length > MAX_CTL_BYTES) {
    return { ok: false, error: { code: "too_large", message: `over ${MAX_CTL_BYTES} bytes` } };
  }
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(text);
  } catch {
    return bad("not JSON");
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return bad("not an object");
  if (obj.type === "set" || obj.type === "sync") {
    const p = parseClientMessage(text);
    if (!p.ok) return p;
    return p.msg.type === "set" || p.msg.type === "sync"
      ? { ok: true, msg: p.msg }
      : bad("not a set");
  }
  if (obj.v !== WAN_WIRE_VERSION) return bad(`unsupported version ${String(obj.v)}`);
  if (obj.type === "demand") {
    if (!Array.isArray(obj.tiles)) return bad("demand.tiles must be an array");
    if (obj.tiles.length > MAX_DEMAND_TILES) {
      return bad(`at most ${MAX_DEMAND_TILES} tiles per page`);
    }
    const tiles: TileDemand[] = [];
    for (const t of obj.tiles as Record<string, unknown>[]) {
      if (!t || typeof t !== "object" || typeof t.source !== "string" || !t.source) {
        return bad("a tile needs a source");
      }
      const why = demandError({ width: t.width, height: t.height, fps: t.fps });
      if (why) return bad(why);
      tiles.push({
        source: t.source,
        width: t.width as number,
        height: t.height as number,
        fps: t.fps as number,
      });
    }
    return { ok: true, msg: { v: WAN_WIRE_VERSION, type: "demand", tiles } };
  }
  if (obj.type === "keyframe") {
    if (typeof obj.identity !== "string" || !parsePublisherIdentity(obj.identity)) {
      return bad("keyframe.identity must name a published rendition");
    }
    return { ok: true, msg: { v: WAN_WIRE_VERSION, type: "keyframe", identity: obj.identity } };
  }
  return bad(`unknown type ${JSON.stringify(obj.type)}`);
}

// ---------------------------------------------------------------- smx → pages

/**
 * The one publication kept on smx_state: the whole state a late joiner needs. smx republishes it
 * at most every STATE_COALESCE_MS while parameters change (and at once on a link change), so a
 * page that missed deltas (joined between two, or saw a gap) is whole again within that time
 * without asking.
 */
export interface StateMsg {
  v: typeof WAN_WIRE_VERSION;
  type: "state";
  /** null while smx has no engine link. */
  snapshot: SnapshotMsg | null;
  link: LinkMsg;
  /** The pictures on offer (what a local page learns from GET /api/hello). */
  sources: WanSourceInfo[];
}

export interface WanSourceInfo {
  id: string;
  label: string;
  width: number;
  height: number;
  fps: number;
  pointer?: PointerChannels;
}
export const STATE_COALESCE_MS = 200;

/**
 * What smx publishes on smx_params: params.ts's delta and link as they are, and the answer to a
 * page's write (`ack` / `error`) addressed to its writer by Centrifugo client id.
 */
export type ParamsChannelMsg = ServerMsg & { to?: string };

export { PARAMS_WIRE_VERSION };

// ---------------------------------------------------------------- the site's API (same origin)

/**
 * What a session may do (issue 11): an operator gets the full UI and write tokens; a viewer only
 * watches (no smx_ctl subscription token, so no writes, pointer or demand).
 */
export type SessionRole = "operator" | "viewer";

/** GET /api/wan/session: who is signed in. 401 → `SignedOut`. */
export interface SessionInfo {
  user: { id: string; name: string; email?: string; groups: string[] };
  /** Absent from sites older than roles: operator. */
  role?: SessionRole;
  /** A public site's visitor without a sign-in (always a viewer). */
  anonymous?: boolean;
}

/** Every 401 of the site's API: the page shows a sign-in prompt that navigates to `login`. */
export interface SignedOut {
  error: "signed_out";
  message: string;
  login: string;
}

/** GET /api/wan/engines: the engines this user may open, with their online state. */
export interface EngineEntry {
  id: string;
  label: string;
  online: boolean;
}

/** POST /api/wan/token {engine}: what a page needs to join an engine (short-lived). */
export interface JoinTokens {
  engine: string;
  /** Absent from sites older than roles: operator. A viewer's smx_ctl subscription is refused. */
  role?: SessionRole;
  livekit: { url: string; room: string; token: string; expiresAt: number };
  centrifugo: {
    url: string;
    /** Connection token; refresh with POST /api/wan/token/connection {engine}. */
    token: string;
    channels: Record<ChannelKind, string>;
    expiresAt: number;
  };
}

/** POST /api/wan/token/subscription {engine, channel} → {token, expiresAt}. */
export interface SubscriptionToken {
  token: string;
  expiresAt: number;
}

/** The site marks the pages it serves so the UI knows its reach whatever the hostname. */
export const REACH_META = "smx-reach";

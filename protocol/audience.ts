/**
 * Audience mode (issue 11): the fixed reaction set, the rules for a reaction's short text, and
 * the token bucket both the site's anonymous mint and smx's per-viewer reaction limit use.
 *
 * Reaction text is user text that every viewer sees, so it is checked before anything else looks
 * at it (seed 002 panicked on multi-byte UTF-8): bytes must be valid UTF-8 and a string must have
 * no lone surrogate; it is NFC-normalised; C0/C1 controls, line/paragraph separators and the bidi
 * embedding/override/isolate controls (U+202A..U+202E, U+2066..U+2069) are refused (they would
 * reorder or break the text around it on every page); everything else, emoji sequences, combining
 * marks and right-to-left scripts included, is kept exactly. At most 80 grapheme clusters and 1024
 * UTF-8 bytes (a cluster of stacked combining marks counts once as a grapheme, so bytes bound it).
 */

/** The reactions a viewer can send: id → what pages show. */
export const REACTIONS = {
  heart: "❤️",
  fire: "🔥",
  clap: "👏",
  laugh: "😂",
  wow: "😮",
  party: "🎉",
} as const;
export type ReactionId = keyof typeof REACTIONS;
export const REACTION_IDS = Object.keys(REACTIONS) as ReactionId[];

export function isReactionId(v: unknown): v is ReactionId {
  return typeof v === "string" && Object.hasOwn(REACTIONS, v);
}

export const MAX_TEXT_GRAPHEMES = 80;
export const MAX_TEXT_BYTES = 1024;

export type TextCheck = { ok: true; text: string } | { ok: false; reason: string };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/;
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;

let segmenter: Intl.Segmenter | undefined;

/** Grapheme clusters in `s` (Intl.Segmenter). */
export function graphemeCount(s: string): number {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let n = 0;
  for (const _ of segmenter.segment(s)) n++;
  return n;
}

/**
 * Checks and normalises a reaction's text: a string (from parsed JSON) or raw bytes (decoded as
 * UTF-8, refused when invalid). Never throws.
 */
export function checkReactionText(input: string | Uint8Array): TextCheck {
  let s: string;
  if (typeof input === "string") {
    s = input;
  } else {
    try {
      s = new TextDecoder("utf-8", { fatal: true }).decode(input);
    } catch {
      return { ok: false, reason: "not valid UTF-8" };
    }
  }
  if (LONE_SURROGATE.test(s)) return { ok: false, reason: "a lone surrogate (not valid UTF-16)" };
  s = s.normalize("NFC");
  if (CONTROL.test(s)) return { ok: false, reason: "control characters are not allowed" };
  if (BIDI_CONTROL.test(s)) {
    return {
      ok: false,
      reason: "bidirectional embedding/override/isolate characters are not allowed",
    };
  }
  const trimmed = s.trim();
  if (trimmed === "") return { ok: false, reason: "empty text" };
  if (new TextEncoder().encode(trimmed).byteLength > MAX_TEXT_BYTES) {
    return { ok: false, reason: `over ${MAX_TEXT_BYTES} bytes of UTF-8` };
  }
  if (graphemeCount(trimmed) > MAX_TEXT_GRAPHEMES) {
    return { ok: false, reason: `over ${MAX_TEXT_GRAPHEMES} characters` };
  }
  return { ok: true, text: trimmed };
}

/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. take() spends one when there is one;
 * otherwise it says how long until there is (for Retry-After).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    nowMs = Date.now(),
  ) {
    this.#tokens = burst;
    this.#at = nowMs;
  }

  #refill(nowMs: number) {
    const dt = Math.max(0, nowMs - this.#at) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + dt * this.perSecond);
    this.#at = nowMs;
  }

  /** Spends a token: `{ok: true}`, or `{ok: false, retryAfterS}` (whole seconds, ≥ 1). */
  take(nowMs = Date.now()): { ok: true } | { ok: false; retryAfterS: number } {
    this.#refill(nowMs);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true };
    }
    const wait = (1 - this.#tokens) / this.perSecond;
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(wait)) };
  }

  /** Full again (nothing spent for long enough): the keyed map may forget it. */
  idle(nowMs = Date.now()): boolean {
    this.#refill(nowMs);
    return this.#tokens >= this.burst;
  }
}

/**
 * Buckets by key (an address, a viewer) with a bound on how many are kept: full buckets are
 * forgotten first, and past `maxKeys` the oldest key goes (a flood of new keys cannot grow it).
 */
export class KeyedBuckets {
  #map = new Map<string, TokenBucket>();
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    readonly maxKeys = 100_000,
  ) {}

  take(key: string, nowMs = Date.now()): { ok: true } | { ok: false; retryAfterS: number } {
    let b = this.#map.get(key);
    if (!b) {
      if (this.#map.size >= this.maxKeys) this.#sweep(nowMs);
      b = new TokenBucket(this.burst, this.perSecond, nowMs);
      this.#map.set(key, b);
    }
    return b.take(nowMs);
  }

  get size(): number {
    return this.#map.size;
  }

  #sweep(nowMs: number) {
    for (const [k, b] of this.#map) if (b.idle(nowMs)) this.#map.delete(k);
    while (this.#map.size >= this.maxKeys) {
      const first = this.#map.keys().next().value!;
      this.#map.delete(first);
    }
  }
}

/** Largest reaction publication smx reads (the text's limit plus the JSON around it). */
export const MAX_REACTION_BYTES = 2048;

/** Viewer → smx (smx_react:<engine>): one reaction, with an optional short text. */
export interface ReactionMsg {
  r: ReactionId;
  text?: string;
}

/** smx → viewers (the batch smx publishes every ~250 ms): counts per reaction and a few texts. */
export interface ReactionBatch {
  /** Counts in this batch, only the non-zero ones. */
  n: Partial<Record<ReactionId, number>>;
  /** Up to a few texts: [viewer name, text]. */
  t?: [string, string][];
  /** Reactions per second over the last few seconds (what the engine's channel gets too). */
  rate: number;
}

/**
 * Parses a viewer's reaction publication (a string of JSON or an already-parsed value); refused
 * with the reason. Never throws.
 */
export function parseReaction(data: unknown): { ok: true; msg: ReactionMsg } | {
  ok: false;
  reason: string;
} {
  let v = data;
  if (data instanceof Uint8Array) {
    // Raw bytes (Centrifugo's protobuf protocol hands JSON data over undecoded): UTF-8 first.
    if (data.byteLength > MAX_REACTION_BYTES) return { ok: false, reason: "too large" };
    try {
      v = new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      return { ok: false, reason: "not valid UTF-8" };
    }
  }
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return { ok: false, reason: "not JSON" };
    }
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    return { ok: false, reason: "not an object" };
  }
  const o = v as Record<string, unknown>;
  if (!isReactionId(o.r)) {
    return { ok: false, reason: `r must be one of ${REACTION_IDS.join(", ")}` };
  }
  if (o.text === undefined) return { ok: true, msg: { r: o.r } };
  if (typeof o.text !== "string") return { ok: false, reason: "text must be a string" };
  const t = checkReactionText(o.text);
  if (!t.ok) return { ok: false, reason: `text: ${t.reason}` };
  return { ok: true, msg: { r: o.r, text: t.text } };
}

/**
 * The audience namespaces (server/wan/relay/centrifugo_config.ts), apart from the three of
 * protocol/wan.ts so pages that operate see no change:
 *   smx_react:<engine>  viewers → smx   any connected client may publish without subscribing
 *                                       (allow_publish_for_client); only smx subscribes (its own
 *                                       token), so viewers never see each other's raw reactions
 *   smx_aud:<engine>    smx → viewers   one ReactionBatch every ~250 ms with the viewer count;
 *                                       presence on without join/leave messages (presence_stats
 *                                       is the count; join/leave to 1,000 pages would be N²)
 */
export const AUDIENCE_NAMESPACES = { react: "smx_react", aud: "smx_aud" } as const;
export type AudienceKind = keyof typeof AUDIENCE_NAMESPACES;

export const audienceChannel = (kind: AudienceKind, engine: string): string =>
  `${AUDIENCE_NAMESPACES[kind]}:${engine}`;

/** How often smx publishes a batch. */
export const BATCH_INTERVAL_MS = 250;
/** Per viewer: a burst of 5 reactions, then 2 per second. */
export const VIEWER_BURST = 5;
export const VIEWER_PER_SECOND = 2;
/** Texts carried per batch (the rest are counted, not shown). */
export const TEXTS_PER_BATCH = 4;

/**
 * Operator → smx on smx_ctl (only operators hold smx_ctl tokens): moderation of the audience.
 *   {type: "audience", op: "clear"}                 drop pending reactions, the rate from zero
 *   {type: "audience", op: "mute" | "unmute", user}  ignore (or no longer) a viewer's reactions
 * `user` is the Centrifugo user (the sender of a text in a batch is shown by name; the watch
 * page's moderation view has the user ids from the site's session list).
 */
export interface ModerationMsg {
  type: "audience";
  op: "clear" | "mute" | "unmute";
  user?: string;
}

export function parseModeration(
  d: Record<string, unknown>,
): { ok: true; msg: ModerationMsg } | { ok: false; message: string } {
  const op = d.op;
  if (op === "clear") return { ok: true, msg: { type: "audience", op } };
  if (op === "mute" || op === "unmute") {
    if (typeof d.user !== "string" || d.user.length === 0 || d.user.length > 256) {
      return { ok: false, message: `audience ${op}: user must be a non-empty string` };
    }
    return { ok: true, msg: { type: "audience", op, user: d.user } };
  }
  return { ok: false, message: "audience: op must be clear, mute or unmute" };
}

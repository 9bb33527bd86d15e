/**
 * Audience mode's on-air routing (issue 11, item 2): a **venue** is a virtual video source
 * `venue:<id>` with a title, routed to one engine output at a time. smx encodes it at a small
 * fixed ladder (VENUE_LADDER by default) and publishes it over WHIP whenever it is on air, for
 * every viewer alike (not driven by anyone's demand). A switch makes the venue's encode sessions
 * read the new output starting with an IDR; no frame mixes two outputs and the size stays fixed
 * (the new output is scaled into it), so a viewer's decoder sees one stream.
 *
 * Runtime-neutral: smx (server/wan/venues/), the site and the watch page import it.
 *
 *   operator ─ smx_ctl `onair` ─▶ smx ─ StateMsg.venues (smx_state, kept for late joiners) ─▶ pages
 *   engine machine ─ POST /api/venues (loopback) ─▶ smx      (same message, same checks)
 */
import type { Rendition } from "./size_classes.ts";

/** Venue ids: like engine ids (no '@', no ':'), so `venue:<id>` survives publisherIdentity. */
export const VENUE_ID_RE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
export const VENUE_PREFIX = "venue:";
/** Titles: shown to every viewer; at most this many UTF-16 units after trimming. */
export const MAX_VENUE_TITLE = 80;
/** Venues one engine may have. */
export const MAX_VENUES = 8;

/** The renditions a venue is published at while on air (configurable in smx's WAN config). */
export const VENUE_LADDER: readonly Rendition[] = [
  { width: 1280, height: 720, fps: 30 },
  { width: 640, height: 360, fps: 30 },
];

export const venueSource = (id: string): string => `${VENUE_PREFIX}${id}`;

/** The venue id of a source id, or null when the source is not a venue. */
export function parseVenueSource(source: string): string | null {
  if (!source.startsWith(VENUE_PREFIX)) return null;
  const id = source.slice(VENUE_PREFIX.length);
  return VENUE_ID_RE.test(id) ? id : null;
}

/** What every page sees of a venue (StateMsg.venues; viewers show the on-air ones only). */
export interface VenueInfo {
  id: string;
  /** `venue:<id>`: the source named in publisher identities. */
  source: string;
  title: string;
  /** The engine output it shows now ("" while none is routed). */
  output: string;
  onAir: boolean;
  /** The renditions published while on air, largest first. */
  renditions: Rendition[];
  /** Increments on every routing change: a page can tell a switch from a republish. */
  switches: number;
}

/**
 * An operator's change (smx_ctl, or the loopback HTTP API on the engine machine). Fields left
 * out are left as they are; a new id creates the venue (it needs `output`).
 */
export interface OnAirMsg {
  v: 1;
  type: "onair";
  venue: string;
  output?: string;
  title?: string;
  onAir?: boolean;
  /** Removes the venue (unpublishes it). */
  remove?: boolean;
}

export type OnAirParsed = { ok: true; msg: OnAirMsg } | { ok: false; message: string };

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A title as shown to viewers, or why it is refused (controls, lone surrogates, too long). */
export function checkTitle(
  v: unknown,
): { ok: true; title: string } | { ok: false; message: string } {
  if (typeof v !== "string") return { ok: false, message: "title must be a string" };
  if (LONE_SURROGATE.test(v)) return { ok: false, message: "title is not valid Unicode" };
  if (CONTROL.test(v)) return { ok: false, message: "title has control characters" };
  const t = v.normalize("NFC").trim();
  if (!t) return { ok: false, message: "title is empty" };
  if (t.length > MAX_VENUE_TITLE) {
    return { ok: false, message: `title is over ${MAX_VENUE_TITLE} characters` };
  }
  return { ok: true, title: t };
}

/** Checks an `onair` message's shape (the outputs and venues themselves are smx's to check). */
export function parseOnAirMessage(obj: Record<string, unknown>): OnAirParsed {
  const bad = (message: string): OnAirParsed => ({ ok: false, message });
  if (obj.type !== "onair") return bad("not an onair message");
  if (obj.v !== 1) return bad(`unsupported version ${String(obj.v)}`);
  if (typeof obj.venue !== "string" || !VENUE_ID_RE.test(obj.venue)) {
    return bad("onair.venue must match " + VENUE_ID_RE.source);
  }
  const msg: OnAirMsg = { v: 1, type: "onair", venue: obj.venue };
  if (obj.output !== undefined) {
    if (typeof obj.output !== "string" || !obj.output || obj.output.length > 200) {
      return bad("onair.output must name an engine output");
    }
    if (parseVenueSource(obj.output) !== null || obj.output.startsWith(VENUE_PREFIX)) {
      return bad("a venue cannot show another venue");
    }
    msg.output = obj.output;
  }
  if (obj.title !== undefined) {
    const t = checkTitle(obj.title);
    if (!t.ok) return bad(t.message);
    msg.title = t.title;
  }
  if (obj.onAir !== undefined) {
    if (typeof obj.onAir !== "boolean") return bad("onair.onAir must be true or false");
    msg.onAir = obj.onAir;
  }
  if (obj.remove !== undefined) {
    if (obj.remove !== true) return bad("onair.remove must be true when present");
    msg.remove = true;
  }
  return { ok: true, msg };
}

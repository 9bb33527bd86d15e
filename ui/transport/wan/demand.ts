/**
 * The WAN page's demand, pure logic: LiveKit tells smx (a WHIP publisher) nothing about its
 * viewers, so each page publishes its whole demand on smx_ctl (`{type:"demand", tiles}`, on every
 * change and every DEMAND_HEARTBEAT_MS), smx publishes `renditionFor(tile, source)` of each tile
 * as one participant named `publisherIdentity(rendition)`, and the page subscribes to that
 * participant when it appears. While it has not appeared, another rendition of the same source
 * that is already in the room serves (a late joiner sees a picture at once).
 */
import { type Rendition, renditionFor } from "../../../protocol/size_classes.ts";
import {
  MAX_DEMAND_TILES,
  parsePublisherIdentity,
  type PublishedRendition,
  publisherIdentity,
  type TileDemand,
} from "../../../protocol/wan.ts";
import type { SourceInfo, VideoDemand } from "../types.ts";

/** A demand as the wire takes it: whole numbers within demandError's bounds. */
export function wireDemand(source: string, d: VideoDemand): TileDemand {
  const clamp = (v: number, max: number) => Math.min(max, Math.max(1, Math.round(v) || 1));
  return {
    source,
    width: clamp(d.width, 8192),
    height: clamp(d.height, 8192),
    fps: clamp(d.fps, 240),
  };
}

/** The rendition smx will publish for this demand (null while the source has no size). */
export function wantedRendition(
  d: TileDemand,
  src: SourceInfo | undefined,
): PublishedRendition | null {
  if (!src || !(src.width > 0 && src.height > 0)) return null;
  const r = renditionFor(d, { width: src.width, height: src.height, fps: src.fps });
  return { source: d.source, ...r };
}

/** The page's whole demand from its tiles' (null = not wanted), deduplicated, capped. */
export function pageDemand(tiles: Iterable<TileDemand | null>): TileDemand[] {
  const out: TileDemand[] = [];
  const seen = new Set<string>();
  for (const t of tiles) {
    if (!t) continue;
    const k = `${t.source}|${t.width}|${t.height}|${t.fps}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(t);
    if (out.length >= MAX_DEMAND_TILES) break;
  }
  return out;
}

/** Same demand (order-insensitive)? Used to publish only on change (plus the heartbeat). */
export function sameDemand(a: readonly TileDemand[], b: readonly TileDemand[]): boolean {
  if (a.length !== b.length) return false;
  const key = (t: TileDemand) => `${t.source}|${t.width}|${t.height}|${t.fps}`;
  const sa = a.map(key).sort(), sb = b.map(key).sort();
  return sa.every((k, i) => k === sb[i]);
}

const rate = (r: Rendition) => r.width * r.height * r.fps;

/**
 * Which participant should feed a tile that wants `want`: its own rendition when it is in the
 * room, else the rendition of the same source closest in pixel rate (ties: the larger), else
 * null. `present`: identities of participants publishing video now.
 */
export function chooseIdentity(
  want: PublishedRendition,
  present: Iterable<string>,
): string | null {
  const exact = publisherIdentity(want);
  let best: { id: string; score: number; rate: number } | null = null;
  for (const id of present) {
    if (id === exact) return id;
    const r = parsePublisherIdentity(id);
    if (!r || r.source !== want.source) continue;
    const score = Math.abs(Math.log(rate(r) / rate(want)));
    if (!best || score < best.score || (score === best.score && rate(r) > best.rate)) {
      best = { id, score, rate: rate(r) };
    }
  }
  return best?.id ?? null;
}

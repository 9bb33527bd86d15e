/**
 * The remote pages' video demand, aggregated into the set of renditions smx should publish.
 *
 * LiveKit tells a WHIP publisher nothing about who watches, so each page says what its tiles need
 * (`demand` on smx_ctl, repeated every DEMAND_HEARTBEAT_MS). A page's new demand replaces its old
 * one; a page silent for DEMAND_EXPIRY_MS (closed tab, lost network) is forgotten. Each tile is
 * rounded with renditionFor against the source's size *now* (the same rule as the local reach, so
 * a remote and a local viewer asking alike share one encode), and equal renditions are one.
 *
 * The set is capped (`maxRenditions`, default 8 = the encoder's default session count): every
 * rendition is an encode session and an upload, and pages are many and outside smx's machine, so
 * no number of them may ask smx for more encodes than it can run. Over the cap, the renditions
 * asked for by the most tiles win (then the cheaper ones); a page whose rendition did not make it
 * finds the source's other renditions in the room and can show one of those.
 *
 * `onWanted` is called only when the set changes, with a sorted list.
 */
import type { PublishedRendition, TileDemand } from "../../../protocol/wan.ts";
import { DEMAND_EXPIRY_MS } from "../../../protocol/wan.ts";
import { pixelRate, type Rendition, renditionFor } from "../../../protocol/size_classes.ts";

export interface DemandOptions {
  /** A source's current size and rate, undefined when it is not on offer (its tiles wait). */
  resolveSource(source: string): Rendition | undefined;
  onWanted(list: PublishedRendition[]): void;
  /** Milliseconds, monotonic (injected in tests). Default performance.now. */
  now?: () => number;
  expiryMs?: number;
  maxRenditions?: number;
  /** Pages tracked at once; past it the longest-silent one is forgotten (default 10000). */
  maxClients?: number;
  log?: (level: "info" | "warn", msg: string) => void;
}

export interface DemandStats {
  clients: number;
  tiles: number;
  wanted: number;
  /** Renditions left out by the cap at the last computation. */
  capped: number;
  changes: number;
}

export const renditionKey = (r: PublishedRendition): string =>
  `${r.source}@${r.width}x${r.height}@${r.fps}`;

export class DemandAggregator {
  readonly #o: DemandOptions;
  readonly #now: () => number;
  readonly #expiryMs: number;
  readonly #max: number;
  readonly #maxClients: number;
  // Insertion order = least recently heard first (an update re-inserts): eviction is O(1).
  #clients = new Map<string, { at: number; tiles: TileDemand[] }>();
  #wanted: PublishedRendition[] = [];
  #wantedKey = "";
  #capped = 0;
  #changes = 0;

  constructor(o: DemandOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    this.#expiryMs = o.expiryMs ?? DEMAND_EXPIRY_MS;
    this.#max = o.maxRenditions ?? 8;
    this.#maxClients = o.maxClients ?? 10000;
  }

  /** A page's whole demand (already shape-checked by parseCtlMessage); `[]` withdraws it. */
  update(clientId: string, tiles: TileDemand[]): void {
    this.#clients.delete(clientId);
    if (tiles.length) {
      this.#clients.set(clientId, { at: this.#now(), tiles });
      if (this.#clients.size > this.#maxClients) {
        this.#clients.delete(this.#clients.keys().next().value!);
      }
    }
    this.recompute();
  }

  /** A page that is gone for sure (e.g. disconnected for flooding). */
  remove(clientId: string): void {
    if (this.#clients.delete(clientId)) this.recompute();
  }

  /** Forgets silent pages and re-rounds against current source sizes; call every second or so. */
  tick(): void {
    const limit = this.#now() - this.#expiryMs;
    for (const [id, c] of this.#clients) {
      if (c.at > limit) break; // ordered by last heard
      this.#clients.delete(id);
    }
    this.recompute();
  }

  wanted(): PublishedRendition[] {
    return this.#wanted.slice();
  }

  get stats(): DemandStats {
    let tiles = 0;
    for (const c of this.#clients.values()) tiles += c.tiles.length;
    return {
      clients: this.#clients.size,
      tiles,
      wanted: this.#wanted.length,
      capped: this.#capped,
      changes: this.#changes,
    };
  }

  /** Rebuilds the set; calls onWanted when it differs from the last one. */
  recompute(): void {
    const count = new Map<string, { r: PublishedRendition; n: number }>();
    const sources = new Map<string, Rendition | undefined>();
    for (const c of this.#clients.values()) {
      for (const t of c.tiles) {
        if (!sources.has(t.source)) sources.set(t.source, this.#o.resolveSource(t.source));
        const src = sources.get(t.source);
        if (!src || !(src.width > 0 && src.height > 0)) continue; // not on offer (yet)
        const r = { source: t.source, ...renditionFor(t, src) };
        const k = renditionKey(r);
        const e = count.get(k);
        if (e) e.n++;
        else count.set(k, { r, n: 1 });
      }
    }
    const ranked = [...count.values()].sort((a, b) => b.n - a.n || pixelRate(a.r) - pixelRate(b.r));
    this.#capped = Math.max(0, ranked.length - this.#max);
    const list = ranked.slice(0, this.#max).map((e) => e.r).sort((a, b) =>
      a.source < b.source ? -1 : a.source > b.source ? 1 : a.width - b.width || a.fps - b.fps
    );
    const key = list.map(renditionKey).join(",");
    if (key === this.#wantedKey) return;
    if (this.#capped) {
      this.#o.log?.(
        "warn",
        `remote demand: ${this.#capped} rendition(s) over the cap of ${this.#max}`,
      );
    }
    this.#wantedKey = key;
    this.#wanted = list;
    this.#changes++;
    this.#o.onWanted(list.slice());
  }
}

/**
 * VenueRouter: smx's on-air routing (protocol/venues.ts). It owns the venues (id, title, routed
 * output, on air), answers the catalog for `venue:<id>` sources (the routed output's frame source
 * at the venue's fixed size), tells the encode sessions when a venue switches (they reopen on the
 * new output and start with an IDR: encoder/session.ts `reroute`), and lists the renditions to
 * publish (every on-air venue at its ladder, whoever watches).
 *
 * Changes come from `apply(OnAirMsg)`: the relay's smx_ctl (operators only: the site mints ctl
 * tokens for operators alone) and the loopback HTTP API on the engine machine go through it alike.
 */
import type { SourceInfo } from "../../../encoder/manager.ts";
import type { PublishedRendition } from "../../../protocol/wan.ts";
import type { Rendition } from "../../../protocol/size_classes.ts";
import {
  MAX_VENUES,
  type OnAirMsg,
  parseVenueSource,
  VENUE_ID_RE,
  VENUE_LADDER,
  type VenueInfo,
  venueSource,
} from "../../../protocol/venues.ts";

export interface VenueConfig {
  id: string;
  title: string;
  output: string;
  onAir?: boolean;
}

export interface VenueRouterOptions {
  /** The engine's outputs now: id → frame source (undefined: not on offer). */
  resolveOutput(output: string): SourceInfo | undefined;
  /** A venue's source now reads another output: reroute its sessions. */
  onRerouted?(source: string): void;
  /** The venue list changed (republish the state; recompute what to publish). */
  onChange?(): void;
  ladder?: readonly Rendition[];
  venues?: VenueConfig[];
  log?: (level: "info" | "warn", msg: string) => void;
}

export type ApplyResult = { ok: true; venue: VenueInfo | null } | { ok: false; message: string };

interface Venue {
  id: string;
  title: string;
  output: string;
  onAir: boolean;
  switches: number;
}

export class VenueRouter {
  readonly #o: VenueRouterOptions;
  readonly #ladder: Rendition[];
  #venues = new Map<string, Venue>();
  #switchedAt = new Map<string, number>();

  constructor(o: VenueRouterOptions) {
    this.#o = o;
    this.#ladder = [...(o.ladder ?? VENUE_LADDER)].sort((a, b) => b.width - a.width);
    for (const v of o.venues ?? []) {
      // The engine may not be linked yet: a configured output is taken on trust (the venue
      // waits for it like any session waits for its source).
      const r = this.#apply({ v: 1, type: "onair", venue: v.id, ...v }, false);
      if (!r.ok) throw new Error(`venue ${v.id}: ${r.message}`);
    }
  }

  /** The fixed size a venue is encoded at (its largest rung): what the catalog reports. */
  get size(): Rendition {
    return this.#ladder[0];
  }

  list(): VenueInfo[] {
    return [...this.#venues.values()].map((v) => this.#info(v));
  }

  get(id: string): VenueInfo | undefined {
    const v = this.#venues.get(id);
    return v && this.#info(v);
  }

  /** When the last switch of `id` happened (performance.now()), for stats and tests. */
  switchedAt(id: string): number | undefined {
    return this.#switchedAt.get(id);
  }

  /** Applies an operator's change (already shape-checked by parseOnAirMessage). */
  apply(m: OnAirMsg): ApplyResult {
    return this.#apply(m, true);
  }

  #apply(m: OnAirMsg, checkOutput: boolean): ApplyResult {
    if (!VENUE_ID_RE.test(m.venue)) return { ok: false, message: "bad venue id" };
    const cur = this.#venues.get(m.venue);
    if (m.remove) {
      if (!cur) return { ok: false, message: `no venue ${m.venue}` };
      this.#venues.delete(m.venue);
      this.#o.log?.("info", `venue ${m.venue}: removed`);
      this.#o.onChange?.();
      return { ok: true, venue: null };
    }
    if (m.output !== undefined && parseVenueSource(m.output) !== null) {
      return { ok: false, message: "a venue cannot show another venue" };
    }
    if (checkOutput && m.output !== undefined && !this.#o.resolveOutput(m.output)) {
      return { ok: false, message: `output ${m.output} is not on offer` };
    }
    if (!cur) {
      if (this.#venues.size >= MAX_VENUES) return { ok: false, message: `at most ${MAX_VENUES}` };
      if (!m.output) return { ok: false, message: "a new venue needs an output" };
      const v: Venue = {
        id: m.venue,
        title: m.title ?? m.venue,
        output: m.output,
        onAir: m.onAir ?? false,
        switches: 0,
      };
      this.#venues.set(v.id, v);
      this.#o.log?.("info", `venue ${v.id}: created on ${v.output}${v.onAir ? ", on air" : ""}`);
      this.#o.onChange?.();
      return { ok: true, venue: this.#info(v) };
    }
    let changed = false;
    if (m.title !== undefined && m.title !== cur.title) (cur.title = m.title), (changed = true);
    if (m.onAir !== undefined && m.onAir !== cur.onAir) (cur.onAir = m.onAir), (changed = true);
    if (m.output !== undefined && m.output !== cur.output) {
      cur.output = m.output;
      cur.switches++;
      changed = true;
      this.#switchedAt.set(cur.id, performance.now());
      this.#o.log?.("info", `venue ${cur.id}: switched to ${cur.output}`);
      this.#o.onRerouted?.(venueSource(cur.id));
    }
    if (changed) this.#o.onChange?.();
    return { ok: true, venue: this.#info(cur) };
  }

  /** The catalog's answer for `venue:<id>`: the routed output's frame source at the venue size. */
  resolve(source: string): SourceInfo | undefined {
    const id = parseVenueSource(source);
    const v = id === null ? undefined : this.#venues.get(id);
    if (!v) return undefined;
    const out = this.#o.resolveOutput(v.output);
    if (!out) return undefined;
    return { ring: out.ring, ...this.size };
  }

  /** Every on-air venue at every rung: published for all viewers, whatever their demand. */
  wanted(): PublishedRendition[] {
    const out: PublishedRendition[] = [];
    for (const v of this.#venues.values()) {
      if (!v.onAir) continue;
      for (const r of this.#ladder) out.push({ source: venueSource(v.id), ...r });
    }
    return out;
  }

  #info(v: Venue): VenueInfo {
    return {
      id: v.id,
      source: venueSource(v.id),
      title: v.title,
      output: v.output,
      onAir: v.onAir,
      renditions: this.#ladder.map((r) => ({ ...r })),
      switches: v.switches,
    };
  }
}

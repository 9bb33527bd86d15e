/**
 * smx_state: what a late joiner needs, and when smx republishes it.
 *
 * The StateMsg holds the browser-safe snapshot (no `Smx.*` channels: smx_channels.ts), the link
 * and the sources on offer. The engine's URL is left out of the link: it is a studio-side address
 * that means nothing on the internet and need not be shown there.
 *
 * When (StateScheduler):
 *  - on a link change or a new snapshot (engine restart, resync): at once;
 *  - while parameters change: at most every STATE_COALESCE_MS (the first change of a quiet
 *    period goes out at once, then one per interval while changes keep coming, and one after
 *    the last), so a page that missed deltas is whole again within that time without asking;
 *  - on a page's `sync`: at once, but at most once a second for all pages together;
 *  - after Centrifugo comes back (resubscribed): at once — its history may be gone;
 *  - every `refreshMs` anyway, so the one publication kept in history never outlives the
 *    namespace's history_ttl (keep history_ttl above it) and changed sources get out.
 */
import type { LinkMsg } from "../../../protocol/params.ts";
import { STATE_COALESCE_MS, type StateMsg, type WanSourceInfo } from "../../../protocol/wan.ts";
import { snapshotForBrowsers } from "../../params/smx_channels.ts";
import type { RelayMirror } from "./remote_write.ts";

export function buildState(mirror: RelayMirror, sources: WanSourceInfo[]): StateMsg {
  const link: LinkMsg = mirror.link.engine
    ? { ...mirror.link, engine: { ...mirror.link.engine, url: "" } }
    : mirror.link;
  const s = link.state === "connected" ? mirror.snapshot() : null;
  return {
    v: 1,
    type: "state",
    snapshot: s ? snapshotForBrowsers(s) : null,
    link,
    sources,
  };
}

export interface StateSchedulerOptions {
  /** Publish the state now (PublishQueue.state). */
  publish(): void;
  coalesceMs?: number;
  syncMinMs?: number;
  refreshMs?: number;
  now?: () => number;
}

export class StateScheduler {
  readonly #publish: () => void;
  readonly #coalesceMs: number;
  readonly #syncMinMs: number;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #last = -Infinity;
  #lastSync = -Infinity;
  #changeTimer: ReturnType<typeof setTimeout> | undefined;
  #changePending = false;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  /** States asked for, by reason (stats). */
  readonly counts = { now: 0, change: 0, sync: 0, syncCoalesced: 0, refresh: 0 };

  constructor(o: StateSchedulerOptions) {
    this.#publish = o.publish;
    this.#coalesceMs = o.coalesceMs ?? STATE_COALESCE_MS;
    this.#syncMinMs = o.syncMinMs ?? 1000;
    this.#refreshMs = o.refreshMs ?? 60000;
    this.#now = o.now ?? (() => performance.now());
  }

  start(): void {
    this.#refreshTimer = setInterval(() => {
      if (this.#now() - this.#last >= this.#refreshMs / 2) {
        this.counts.refresh++;
        this.#fire();
      }
    }, this.#refreshMs / 2);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#changeTimer);
    clearTimeout(this.#syncTimer);
    clearInterval(this.#refreshTimer);
  }

  /** A state is due at the end of a coalescing or sync interval. */
  get pending(): boolean {
    return this.#changePending || this.#syncTimer !== undefined;
  }

  /** A link change, a new snapshot, Centrifugo back: publish at once. */
  now(): void {
    this.counts.now++;
    this.#fire();
  }

  /** Parameters changed (a delta). */
  changed(): void {
    if (this.#stopped) return;
    if (this.#changeTimer !== undefined) {
      this.#changePending = true; // covered by the state at the end of this interval
      return;
    }
    const wait = this.#last + this.#coalesceMs - this.#now();
    if (wait <= 0) {
      this.counts.change++;
      this.#fire();
      this.#armChangeTimer(this.#coalesceMs);
    } else {
      this.#changePending = true;
      this.#armChangeTimer(wait);
    }
  }

  #armChangeTimer(ms: number): void {
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      if (!this.#changePending) return;
      this.#changePending = false;
      this.counts.change++;
      this.#fire();
      this.#armChangeTimer(this.#coalesceMs);
    }, ms);
  }

  /** A page's `sync` (any page: the limit is for all of them together). */
  sync(): void {
    if (this.#syncTimer !== undefined || this.#stopped) {
      this.counts.syncCoalesced++;
      return;
    }
    const wait = this.#lastSync + this.#syncMinMs - this.#now();
    if (wait <= 0) {
      this.#lastSync = this.#now();
      this.counts.sync++;
      this.#fire();
      return;
    }
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#lastSync = this.#now();
      this.counts.sync++;
      this.#fire();
    }, wait);
  }

  #fire(): void {
    if (this.#stopped) return;
    this.#last = this.#now();
    this.#publish();
  }
}

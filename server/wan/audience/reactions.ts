/**
 * smx's side of audience reactions (issue 11): viewers publish into smx_react:<engine> (anyone
 * connected may publish there; only smx reads it). Each publication is handed to `receive()` with
 * the Centrifugo user who sent it (the publication's ClientInfo, which a page cannot forge).
 * Nothing a viewer sends can throw out of here: the data is parsed by protocol/audience.ts
 * (reaction id from the fixed set, text checked for UTF-8, NFC, controls, bidi overrides, length).
 *
 * Per viewer a token bucket (VIEWER_BURST, then VIEWER_PER_SECOND); over it, the reaction is
 * dropped and counted as throttled. Muted users (an operator's ctl message) are ignored. Every
 * BATCH_INTERVAL_MS, when anything arrived (or the viewer count changed), one ReactionBatch
 * (counts per reaction, up to TEXTS_PER_BATCH texts, the rate, the viewer count) goes to `publish`
 * (smx_aud:<engine> through the server API): 1,000 viewers cost one publication per interval, not
 * one per reaction. The rate (reactions per second over the last RATE_WINDOW_MS) and the viewer
 * count go to `onAggregate`, which writes the engine's read-only channels.
 */
import {
  BATCH_INTERVAL_MS,
  KeyedBuckets,
  parseReaction,
  type ReactionBatch,
  type ReactionId,
  TEXTS_PER_BATCH,
  VIEWER_BURST,
  VIEWER_PER_SECOND,
} from "../../../protocol/audience.ts";

export const RATE_WINDOW_MS = 2000;

export interface ReactionStats {
  accepted: number;
  throttled: number;
  refused: number;
  muted: number;
  batches: number;
  publishErrors: number;
}

export interface ReactionAggregatorOptions {
  publish: (batch: ReactionBatch & { viewers?: number }) => Promise<void>;
  /** The rate and viewer count after each interval (the engine's read-only channels). */
  onAggregate?: (a: { rate: number; viewers: number | undefined }) => void;
  /** The viewer count (presence_stats of smx_aud), asked at most once per second. */
  viewers?: () => Promise<number>;
  log?: (msg: string) => void;
  intervalMs?: number;
}

export class ReactionAggregator {
  readonly stats: ReactionStats = {
    accepted: 0,
    throttled: 0,
    refused: 0,
    muted: 0,
    batches: 0,
    publishErrors: 0,
  };
  #buckets = new KeyedBuckets(VIEWER_BURST, VIEWER_PER_SECOND);
  #muted = new Set<string>();
  #counts = new Map<ReactionId, number>();
  #texts: [string, string][] = [];
  /** Accepted reactions' times in the rate window. */
  #recent: number[] = [];
  #timer: ReturnType<typeof setInterval>;
  #viewers: number | undefined;
  #viewersAskedAt = 0;
  #lastSent = { rate: -1, viewers: -1 as number | undefined };
  #busy = false;

  constructor(private o: ReactionAggregatorOptions) {
    this.#timer = setInterval(() => this.#tick(), o.intervalMs ?? BATCH_INTERVAL_MS);
  }

  /** One publication from smx_react. Never throws. */
  receive(user: string, name: string, data: unknown, nowMs = Date.now()): void {
    if (this.#muted.has(user)) {
      this.stats.muted++;
      return;
    }
    const p = parseReaction(data);
    if (!p.ok) {
      this.stats.refused++;
      this.o.log?.(`reaction from ${user} refused: ${p.reason}`);
      return;
    }
    if (!this.#buckets.take(user, nowMs).ok) {
      this.stats.throttled++;
      return;
    }
    this.stats.accepted++;
    this.#counts.set(p.msg.r, (this.#counts.get(p.msg.r) ?? 0) + 1);
    this.#recent.push(nowMs);
    if (p.msg.text !== undefined && this.#texts.length < TEXTS_PER_BATCH) {
      this.#texts.push([name.slice(0, 40), p.msg.text]);
    }
  }

  mute(user: string): void {
    this.#muted.add(user);
  }

  unmute(user: string): void {
    this.#muted.delete(user);
  }

  /** Operator's "clear": what is pending is dropped and the rate starts again from zero. */
  clear(): void {
    this.#counts.clear();
    this.#texts = [];
    this.#recent = [];
  }

  rate(nowMs = Date.now()): number {
    while (this.#recent.length && this.#recent[0] <= nowMs - RATE_WINDOW_MS) this.#recent.shift();
    return Math.round((this.#recent.length / (RATE_WINDOW_MS / 1000)) * 10) / 10;
  }

  async #tick() {
    if (this.#busy) return; // a slow publish: the next interval takes everything pending
    this.#busy = true;
    try {
      const now = Date.now();
      if (this.o.viewers && now - this.#viewersAskedAt >= 1000) {
        this.#viewersAskedAt = now;
        try {
          this.#viewers = await this.o.viewers();
        } catch (e) {
          this.o.log?.(`viewer count unavailable: ${(e as Error).message}`);
        }
      }
      const rate = this.rate(now);
      const viewers = this.#viewers;
      this.o.onAggregate?.({ rate, viewers });
      const changed = rate !== this.#lastSent.rate || viewers !== this.#lastSent.viewers;
      if (this.#counts.size === 0 && !changed) return;
      const batch: ReactionBatch & { viewers?: number } = {
        n: Object.fromEntries(this.#counts),
        rate,
        ...(this.#texts.length ? { t: this.#texts } : {}),
        ...(viewers !== undefined ? { viewers } : {}),
      };
      this.#counts = new Map();
      this.#texts = [];
      this.#lastSent = { rate, viewers };
      try {
        await this.o.publish(batch);
        this.stats.batches++;
      } catch (e) {
        this.stats.publishErrors++;
        this.o.log?.(`reaction batch not published: ${(e as Error).message}`);
      }
    } finally {
      this.#busy = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

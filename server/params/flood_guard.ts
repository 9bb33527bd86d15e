/**
 * The rate limit of one parameter client, with teeth. A token bucket lets bursts through; what it
 * refuses is counted, and a client that keeps being refused is a flood to close, not a client to
 * argue with message by message:
 *
 * - more than `closeAfterRefusals` refusals within one second (a fast flood), or
 * - being refused for longer than `closeAfterMs` without a one-second pause (a slow flood: a
 *   bucket refills a token at a time, so "refusals in a row" never grows under a steady flood —
 *   counting those let one client collect 17,879 `rate_limited` replies);
 *
 * and only the first refusal of each second is answered, so a flood does not cause a flood of
 * replies (a refused `set` left unanswered is settled by the client's own write timeout).
 */
import { TokenBucket } from "./token_bucket.ts";

export interface FloodGuardOptions {
  /** Sustained messages per second. */
  ratePerSecond: number;
  /** Burst allowance. */
  burst: number;
  /** Close after more than this many refusals within one second. Default ratePerSecond. */
  closeAfterRefusals?: number;
  /** Close when refused for longer than this without a one-second pause. Default 2000 ms. */
  closeAfterMs?: number;
}

/**
 * `pass`: handle the message; `reply`: drop it and say so (`rate_limited`); `drop`: drop it
 * silently (already told this second); `close`: close the client, `reason` says why.
 */
export type FloodVerdict = "pass" | "reply" | "drop" | "close";

const WINDOW_MS = 1000;

export class FloodGuard {
  readonly #bucket: TokenBucket;
  readonly #closeAfterRefusals: number;
  readonly #closeAfterMs: number;
  #overSince = -Infinity;
  #lastRefusal = -Infinity;
  #lastReply = -Infinity;
  // Refusals per second, as a sliding window approximated from two fixed ones (O(1) memory).
  #windowStart = 0;
  #current = 0;
  #previous = 0;
  #reason = "";

  constructor(readonly opts: FloodGuardOptions) {
    this.#bucket = new TokenBucket(opts.ratePerSecond, opts.burst);
    this.#closeAfterRefusals = opts.closeAfterRefusals ?? opts.ratePerSecond;
    this.#closeAfterMs = opts.closeAfterMs ?? 2000;
  }

  /** Why the last `close` verdict was given (fits a WebSocket close reason). */
  get reason(): string {
    return this.#reason;
  }

  check(now = performance.now()): FloodVerdict {
    if (this.#bucket.take()) return "pass";
    if (now - this.#lastRefusal >= WINDOW_MS) this.#overSince = now; // a new episode
    this.#lastRefusal = now;
    const rate = this.opts.ratePerSecond;
    if (this.#refusalsInLastSecond(now) > this.#closeAfterRefusals) {
      this.#reason = `rate limit: over ${this.#closeAfterRefusals} messages refused in 1 s`;
      return "close";
    }
    if (now - this.#overSince > this.#closeAfterMs) {
      this.#reason = `rate limit: over ${rate} msg/s for more than ${this.#closeAfterMs} ms`;
      return "close";
    }
    if (now - this.#lastReply < WINDOW_MS) return "drop";
    this.#lastReply = now;
    return "reply";
  }

  #refusalsInLastSecond(now: number): number {
    const since = now - this.#windowStart;
    if (since >= WINDOW_MS) {
      this.#previous = since < 2 * WINDOW_MS ? this.#current : 0;
      this.#current = 0;
      this.#windowStart = now - (since % WINDOW_MS);
    }
    this.#current++;
    const overlap = 1 - (now - this.#windowStart) / WINDOW_MS;
    return this.#current + this.#previous * overlap;
  }
}

/**
 * Rate limits for remote pages, one FloodGuard per Centrifugo client id: the very rule a local
 * /ws/params client is held to (flood_guard.ts: a bucket, `rate_limited` once a second, a
 * sustained flood is closed), with the same defaults.
 *
 * What "closed" means here: smx cannot close another client's Centrifugo connection itself, so on
 * the guard's `close` verdict the client id is ignored for `penaltyMs` (everything it still sends
 * is dropped unread) and the relay asks Centrifugo's server API to `disconnect` that client with a
 * reconnecting code — as a local page closed 1008 reconnects with backoff, and comes back with a
 * fresh bucket. A Centrifugo reconnect gets a new client id, so the penalty on the old id only
 * covers what was still in flight; the disconnect is what stops the flood.
 *
 * Entries for pages that went quiet are pruned, and their number is capped, so a stream of
 * short-lived clients cannot grow this map.
 */
import { FloodGuard, type FloodVerdict } from "../../params/flood_guard.ts";

export interface RemoteLimits {
  /** Sustained messages per second per page (default 1000, as local clients). */
  ratePerSecond?: number;
  /** Burst allowance (default 2 × ratePerSecond). */
  burst?: number;
  /** Close after more than this many refusals within one second (default ratePerSecond). */
  floodCloseAfter?: number;
  /** Close a page refused for longer than this without a 1 s pause (default 2000 ms). */
  floodCloseMs?: number;
  /** How long a flooder's client id is ignored (default 10 s). */
  penaltyMs?: number;
}

/** `ignored`: a flooder serving its penalty; the rest are FloodGuard's verdicts. */
export type RemoteVerdict = FloodVerdict | "ignored";

const IDLE_PRUNE_MS = 60000;
const MAX_CLIENTS = 10000;

export class RemoteClients {
  readonly #limits: Required<Omit<RemoteLimits, "floodCloseAfter" | "floodCloseMs">> & RemoteLimits;
  #guards = new Map<string, { guard: FloodGuard; seen: number }>();
  #penalty = new Map<string, number>();

  constructor(limits: RemoteLimits = {}) {
    const rate = limits.ratePerSecond ?? 1000;
    this.#limits = {
      ...limits,
      ratePerSecond: rate,
      burst: limits.burst ?? 2 * rate,
      penaltyMs: limits.penaltyMs ?? 10000,
    };
  }

  get ratePerSecond(): number {
    return this.#limits.ratePerSecond;
  }

  /** Why the last `close` verdict for `client` was given. */
  reason(client: string): string {
    return this.#guards.get(client)?.guard.reason ?? "rate limit";
  }

  check(client: string, now = performance.now()): RemoteVerdict {
    const until = this.#penalty.get(client);
    if (until !== undefined) {
      if (now < until) return "ignored";
      this.#penalty.delete(client);
    }
    let e = this.#guards.get(client);
    if (!e) {
      e = {
        guard: new FloodGuard({
          ratePerSecond: this.#limits.ratePerSecond,
          burst: this.#limits.burst,
          closeAfterRefusals: this.#limits.floodCloseAfter,
          closeAfterMs: this.#limits.floodCloseMs,
        }),
        seen: now,
      };
      if (this.#guards.size >= MAX_CLIENTS) this.#guards.delete(this.#guards.keys().next().value!);
      this.#guards.set(client, e);
    }
    e.seen = now;
    const v = e.guard.check(now);
    if (v === "close") {
      this.#penalty.set(client, now + this.#limits.penaltyMs);
      this.#guards.delete(client);
    }
    return v;
  }

  /** Forgets quiet pages and served penalties (call every few seconds). */
  prune(now = performance.now()): void {
    for (const [id, e] of this.#guards) if (now - e.seen > IDLE_PRUNE_MS) this.#guards.delete(id);
    for (const [id, until] of this.#penalty) if (now >= until) this.#penalty.delete(id);
  }

  get stats(): { tracked: number; penalized: number } {
    return { tracked: this.#guards.size, penalized: this.#penalty.size };
  }
}

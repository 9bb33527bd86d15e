/**
 * Wrong pairing attempts, limited per peer address and over all peers. Only wrong attempts cost:
 * a device that pairs right the first time never meets a limit.
 *
 * Each limit is a bucket of `burst` attempts that refills one attempt per `refillMs`:
 * - per peer: 5, then one per 12 s (5 a minute);
 * - all peers together: 20, then one per 3 s (20 a minute), so that many addresses (an attacker
 *   can take several on a LAN, and IPv6 gives plenty) do not multiply the rate.
 * Guessing the 8-digit code at 20 a minute takes 4.8 years on average (10^8 / 2 attempts), and
 * the code changes with every launch and rotation. The 192-bit secret cannot be guessed at any
 * rate; see pairing.ts for why a right secret is accepted even while the limit holds.
 */

export interface BucketSpec {
  burst: number;
  refillMs: number;
}

export const PER_PEER: BucketSpec = { burst: 5, refillMs: 12_000 };
export const GLOBAL: BucketSpec = { burst: 20, refillMs: 3_000 };
/** Peers remembered at once; past it, full (forgiven) buckets are dropped first. */
export const MAX_PEERS = 4096;

class Bucket {
  #tokens: number;
  #at: number;
  constructor(private spec: BucketSpec, now: number) {
    this.#tokens = spec.burst;
    this.#at = now;
  }
  #refill(now: number): void {
    this.#tokens = Math.min(this.spec.burst, this.#tokens + (now - this.#at) / this.spec.refillMs);
    this.#at = now;
  }
  /** Milliseconds until one attempt is allowed (0: now). */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.spec.refillMs);
  }
  take(now: number): void {
    this.#refill(now);
    this.#tokens = Math.max(0, this.#tokens - 1);
  }
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.spec.burst;
  }
}

export interface AttemptLimitOptions {
  perPeer?: BucketSpec;
  global?: BucketSpec;
  maxPeers?: number;
  now?: () => number;
}

export class AttemptLimit {
  readonly #perPeer: BucketSpec;
  readonly #global: Bucket;
  readonly #peers = new Map<string, Bucket>();
  readonly #maxPeers: number;
  readonly #now: () => number;
  /** Wrong attempts since start (for the log and tests). */
  wrong = 0;
  /** Attempts answered 429 since start. */
  limited = 0;

  constructor(o: AttemptLimitOptions = {}) {
    this.#now = o.now ?? Date.now;
    this.#perPeer = o.perPeer ?? PER_PEER;
    this.#global = new Bucket(o.global ?? GLOBAL, this.#now());
    this.#maxPeers = o.maxPeers ?? MAX_PEERS;
  }

  /** Milliseconds until `peer` may try again (0: now): the longer of its own and the global wait. */
  waitMs(peer: string): number {
    const now = this.#now();
    return Math.max(this.#global.waitMs(now), this.#peers.get(peer)?.waitMs(now) ?? 0);
  }

  /** Counts a wrong attempt from `peer` against both limits. */
  failed(peer: string): void {
    const now = this.#now();
    this.wrong++;
    this.#global.take(now);
    let b = this.#peers.get(peer);
    if (!b) {
      if (this.#peers.size >= this.#maxPeers) this.#forget(now);
      b = new Bucket(this.#perPeer, now);
      this.#peers.set(peer, b);
    }
    b.take(now);
  }

  /** Makes room: forgiven peers first; if none, the oldest entry (the global limit still holds). */
  #forget(now: number): void {
    for (const [p, b] of this.#peers) if (b.full(now)) this.#peers.delete(p);
    if (this.#peers.size >= this.#maxPeers) {
      this.#peers.delete(this.#peers.keys().next().value!);
    }
  }
}

/** A token bucket: `rate` tokens per second, holding at most `burst`. No timers, no allocation. */
export class TokenBucket {
  #tokens: number;
  #last = performance.now();

  constructor(readonly rate: number, readonly burst: number) {
    this.#tokens = burst;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#last) * this.rate / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

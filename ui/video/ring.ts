/** A fixed-size ring of numbers: recent samples without allocation per sample. */
export class Ring {
  #buf: Float64Array;
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number) {
    this.#buf = new Float64Array(capacity);
  }

  push(v: number): void {
    this.#buf[this.#next] = v;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count++;
  }

  get length(): number {
    return this.#count;
  }

  /** The i-th most recent sample (0 = newest). */
  recent(i: number): number {
    return this.#buf[(this.#next - 1 - i + this.capacity * 2) % this.capacity];
  }

  /** Oldest first. */
  toArray(): number[] {
    const out = new Array<number>(this.#count);
    for (let i = 0; i < this.#count; i++) out[i] = this.recent(this.#count - 1 - i);
    return out;
  }

  clear(): void {
    this.#next = 0;
    this.#count = 0;
  }
}

/** The q-quantile (0..1) of a list of numbers (nearest rank); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * Spreads an access unit's RTP packets over a few milliseconds instead of writing them in one
 * burst. werift has no pacer: a 720p IDR is ~60-100 packets written back to back, which a
 * shallow router or Wi-Fi queue on the way to the SFU drops in a clump (the SFU then NACKs half a
 * keyframe, or asks for another one). Deltas are smaller than the burst allowance and go out at
 * once; only big frames are spread.
 *
 * Rules: frames go out in order, each at `rateBytesPerSecond` after its first `burstBytes`, but
 * never spread over more than `maxSpreadMs` (a frame must be out well before the next one
 * arrives: pacing may not add delay that accumulates). If frames queue up anyway (a stalled event
 * loop), the backlog is flushed unpaced.
 */

export interface PacerOptions {
  rateBytesPerSecond: number;
  /** Sent without waiting at the start of each frame. */
  burstBytes: number;
  /** Upper bound of one frame's spread; the rate is raised to fit a larger frame in it. */
  maxSpreadMs: number;
  /** Frames waiting beyond this many are a backlog: everything queued goes out at once. */
  maxQueuedFrames?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Below this wait the pacer does not sleep (timers are ~1 ms coarse). */
const MIN_SLEEP_MS = 1;

export class Pacer<P> {
  #queue: { packets: P[]; done: () => void }[] = [];
  #running = false;
  #closed = false;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Frames whose packets were spread (stats). */
  paced = 0;
  /** Backlogs flushed unpaced (stats). */
  flushed = 0;

  constructor(
    private readonly opts: PacerOptions,
    private readonly size: (p: P) => number,
    private readonly send: (p: P) => void,
  ) {
    this.#now = opts.now ?? (() => performance.now());
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Queues one frame's packets; resolves when the last one has been handed to `send`. */
  push(packets: P[]): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#queue.push({ packets, done: resolve });
    if (!this.#running) this.#run();
    return promise;
  }

  get queuedFrames(): number {
    return this.#queue.length;
  }

  /** Drops what is queued (the session ended). */
  close(): void {
    this.#closed = true;
    for (const f of this.#queue.splice(0)) f.done();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length && !this.#closed) {
        const frame = this.#queue[0];
        await this.#sendFrame(frame.packets);
        this.#queue.shift();
        frame.done();
      }
    } finally {
      this.#running = false;
    }
  }

  async #sendFrame(packets: P[]): Promise<void> {
    const { burstBytes, maxSpreadMs } = this.opts;
    const total = packets.reduce((n, p) => n + this.size(p), 0);
    // The rate that fits the frame (beyond its burst) into maxSpreadMs, if that is faster.
    const rate = Math.max(
      this.opts.rateBytesPerSecond,
      (total - burstBytes) / (maxSpreadMs / 1000),
    );
    const start = this.#now();
    let sent = 0;
    let waited = false;
    for (const p of packets) {
      if (this.#closed) return;
      const due = start + Math.max(0, sent - burstBytes) / rate * 1000;
      const wait = due - this.#now();
      if (wait >= MIN_SLEEP_MS && !this.#backlogged()) {
        waited = true;
        await this.#sleep(wait);
      }
      this.send(p);
      sent += this.size(p);
    }
    if (waited) this.paced++;
  }

  #backlogged(): boolean {
    if (this.#queue.length <= (this.opts.maxQueuedFrames ?? 2)) return false;
    this.flushed++;
    return true;
  }
}

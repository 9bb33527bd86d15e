/**
 * What smx has to publish, bounded. Everything for smx_params (deltas, link, ack/error) keeps its
 * order; the state for smx_state is a flag, not a message: its text is built when it is sent, so
 * however often it is asked for, one state (the newest) goes out per request.
 *
 * Other server API commands (a flooder's `disconnect`) ride in the same stream, in order.
 *
 * One request in flight at a time, and everything queued meanwhile goes out as one `batch`
 * (`parallel: false`, so in order): ordered like a single stream, yet not limited to one message
 * per round trip when Centrifugo is far away.
 *
 * A stalled or absent Centrifugo must not grow smx: past `maxPending` messages (or bytes) the
 * queued params are dropped, one warning says how many, and the state is owed instead (a page
 * that missed deltas is whole again from it; a dropped ack settles by the page's own write
 * timeout). While requests fail nothing is queued at all; the state is retried with backoff and
 * republished first thing when Centrifugo answers again.
 */
import {
  type CentrifugoApi,
  CentrifugoApiError,
  publishCommand,
  RawJson,
} from "./centrifugo_api.ts";

export interface PublishQueueOptions {
  api: CentrifugoApi;
  stateChannel: string;
  paramsChannel: string;
  /** The StateMsg text to publish now (called at send time). */
  stateText: () => string;
  /** Params messages waiting before they are dropped (default 512). */
  maxPending?: number;
  /** Bytes of params messages waiting before they are dropped (default 1 MiB). */
  maxPendingBytes?: number;
  /** Commands per request (default 128). */
  maxBatch?: number;
  /** First retry delay after a failed request (default 250 ms), doubling up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
  log: (level: "info" | "warn", msg: string) => void;
}

export interface PublishQueueStats {
  /** Commands Centrifugo accepted besides states (params messages, disconnects). */
  params: number;
  /** States sent (a refused one counts in `refused` too). */
  states: number;
  requests: number;
  /** Commands dropped: overflow, a failed request, or queued while failing. */
  dropped: number;
  overflows: number;
  failures: number;
  /** Commands Centrifugo refused inside a batch (e.g. unknown namespace). */
  refused: number;
  pending: number;
  pendingBytes: number;
  failing: boolean;
  lastError: string | null;
}

export class PublishQueue {
  readonly #o: PublishQueueOptions;
  readonly #maxPending: number;
  readonly #maxBytes: number;
  readonly #maxBatch: number;
  #queue: string[] = [];
  #bytes = 0;
  #stateOwed = false;
  #inFlight: Promise<void> | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;
  #failing = false;
  #stopped = false;
  #refusedCodes = new Set<number>();
  #s = { params: 0, states: 0, requests: 0, dropped: 0, overflows: 0, failures: 0, refused: 0 };
  #lastError: string | null = null;

  constructor(o: PublishQueueOptions) {
    this.#o = o;
    this.#maxPending = o.maxPending ?? 512;
    this.#maxBytes = o.maxPendingBytes ?? 1 << 20;
    this.#maxBatch = o.maxBatch ?? 128;
  }

  get stats(): PublishQueueStats {
    return {
      ...this.#s,
      pending: this.#queue.length,
      pendingBytes: this.#bytes,
      failing: this.#failing,
      lastError: this.#lastError,
    };
  }

  /** Publish the state (the newest, built at send time) as soon as possible. */
  state(): void {
    this.#stateOwed = true;
    this.#kick();
  }

  /**
   * Publish one smx_params message (JSON text), after everything queued before it. `tags`: for
   * an answer, `to` (client id) and `user`, so a page's tags filter can leave out the answers
   * meant for other users' pages.
   */
  params(text: string, tags?: { to: string; user: string }): void {
    this.command(publishCommand(this.#o.paramsChannel, new RawJson(text), tags));
  }

  /**
   * Any server API command (a batch entry, e.g. a `disconnect`), in order with the params: a
   * flooder's last `rate_limited` error reaches it before it is disconnected.
   */
  command(text: string): void {
    if (this.#stopped) return;
    if (this.#failing) {
      this.#s.dropped++; // Centrifugo is away: the state republished on its return covers it
      this.#stateOwed = true;
      return;
    }
    this.#queue.push(text);
    this.#bytes += text.length;
    if (this.#queue.length > this.#maxPending || this.#bytes > this.#maxBytes) {
      this.#s.overflows++;
      this.#s.dropped += this.#queue.length;
      this.#o.log(
        "warn",
        `Centrifugo is not keeping up: dropped ${this.#queue.length} queued messages ` +
          `(${this.#bytes} bytes); republishing the state instead`,
      );
      this.#queue = [];
      this.#bytes = 0;
      this.#stateOwed = true;
    }
    this.#kick();
  }

  /** Resolves once nothing is queued or in flight (tests; a clean stop). */
  async idle(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.#inFlight || this.#queue.length || (this.#stateOwed && !this.#failing)) {
      const left = end - Date.now();
      if (left <= 0) throw new Error("publish queue not idle in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([ // a request stuck until its own timeout must not hold us longer
        this.#inFlight ?? new Promise((r) => setTimeout(r, 10)),
        new Promise((r) => timer = setTimeout(r, Math.min(left, 100))),
      ]);
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#queue = [];
    this.#bytes = 0;
  }

  #kick(): void {
    if (this.#stopped || this.#inFlight || this.#retryTimer !== undefined) return;
    if (!this.#queue.length && !this.#stateOwed) return;
    this.#inFlight = this.#send().finally(() => {
      this.#inFlight = null;
      this.#kick();
    });
  }

  async #send(): Promise<void> {
    const take = this.#queue.splice(0, this.#maxBatch);
    for (const t of take) this.#bytes -= t.length;
    const withState = this.#stateOwed && this.#queue.length === 0; // state last: it is the newest
    if (withState) this.#stateOwed = false;
    const commands = take.slice();
    let stateSent = false;
    if (withState) {
      try {
        commands.push(publishCommand(this.#o.stateChannel, new RawJson(this.#o.stateText())));
        stateSent = true;
      } catch (e) { // a bug building it must not stop the queue; the next state may work
        this.#o.log("warn", `state not built: ${(e as Error).message}`);
      }
    }
    if (!commands.length) return;
    this.#s.requests++;
    try {
      const replies = await this.#o.api.batch(commands);
      // A refused command is not retried (that would loop): it is a misconfiguration, said once.
      replies.forEach((r) => {
        if (!r.error) return;
        this.#s.refused++;
        if (!this.#refusedCodes.has(r.error.code)) { // once per code: a misconfigured namespace
          this.#refusedCodes.add(r.error.code);
          this.#o.log("warn", `Centrifugo refused a publish: ${r.error.message} (${r.error.code})`);
        }
      });
      this.#s.params += take.length;
      if (stateSent) this.#s.states++;
      if (this.#failing) this.#o.log("info", "Centrifugo API answers again");
      this.#failing = false;
      this.#retryMs = 0;
    } catch (e) {
      if (this.#stopped) return;
      const err = e instanceof CentrifugoApiError
        ? e
        : new CentrifugoApiError("network", String(e));
      this.#s.failures++;
      this.#lastError = err.message;
      if (!this.#failing) {
        this.#o.log("warn", `Centrifugo API: ${err.message}; retrying, state republished after`);
      }
      this.#failing = true;
      // What was in this request may or may not have arrived; what is queued is stale by the
      // time Centrifugo is back. The state says it all.
      this.#s.dropped += take.length + this.#queue.length;
      this.#queue = [];
      this.#bytes = 0;
      this.#stateOwed = true;
      this.#retryMs = Math.min(
        this.#o.retryMaxMs ?? 5000,
        Math.max(this.#o.retryMinMs ?? 250, this.#retryMs * 2),
      );
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#kick();
      }, this.#retryMs);
    }
  }
}

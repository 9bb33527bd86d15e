/**
 * What smx sends one parameter client, bounded however slowly that client reads.
 *
 * - Deltas go out while the socket's send buffer is under `softBytes`; past it the client stops
 *   getting deltas and is owed a snapshot instead (the snapshot covers what it missed).
 * - Snapshots are coalesced: at most one is owed, sent (built fresh) once the buffer is back
 *   under a quarter of `softBytes` — never a queue. A client asking `sync` in a loop without
 *   reading drove smx from 104 MB to 554 MB RSS when every sync queued a full snapshot.
 * - A client owed a snapshot it cannot take for `stallMs`, or whose buffer passes `hardBytes`
 *   (acks, errors and pongs are not coalesced), is given up: `onTooSlow(reason)`.
 *
 * Deno cannot abort the TCP connection under a WebSocket: the close frame waits behind the unread
 * data until the client reads or goes away. What smx keeps for such a client is what is already
 * buffered — at most about `hardBytes` — and nothing more is sent to it.
 */

export interface OutboxOptions {
  /** Deltas pause above this many buffered bytes. */
  softBytes: number;
  /** Above this the client is disconnected. */
  hardBytes: number;
  /** A snapshot owed for this long (the buffer never drained) disconnects the client. */
  stallMs: number;
  /** How often to look for the buffer draining while a snapshot is owed. Default 25 ms. */
  pollMs?: number;
}

export interface OutboxStats {
  snapshotsSent: number;
  /** `sync`s and engine snapshots folded into a snapshot that was already owed. */
  snapshotsCoalesced: number;
  deltasSent: number;
  deltasSkipped: number;
}

export class Outbox {
  readonly stats: OutboxStats = {
    snapshotsSent: 0,
    snapshotsCoalesced: 0,
    deltasSent: 0,
    deltasSkipped: 0,
  };
  #owedSince = -1;
  #poll: ReturnType<typeof setInterval> | undefined;
  #done = false;

  constructor(
    private socket: WebSocket,
    /** The snapshot text to send (built when it is sent, so it is current), or null if none. */
    private snapshot: () => string | null,
    private opts: OutboxOptions,
    private onTooSlow: (reason: string) => void,
  ) {}

  /** True while the client is owed a snapshot (its deltas are being skipped). */
  get owesSnapshot(): boolean {
    return this.#owedSince >= 0;
  }

  /** A message that is not coalesced (link, ack, error, ping, pong). False if not sent. */
  send(text: string): boolean {
    if (this.#done || this.socket.readyState !== WebSocket.OPEN) return false;
    if (this.socket.bufferedAmount > this.opts.hardBytes) {
      this.#giveUp(`too slow: send buffer over ${this.opts.hardBytes} bytes`);
      return false;
    }
    this.socket.send(text);
    return true;
  }

  /** An engine delta, relayed as is unless the client is behind. */
  delta(raw: string): void {
    if (this.owesSnapshot || this.socket.bufferedAmount > this.opts.softBytes) {
      this.stats.deltasSkipped++;
      if (!this.owesSnapshot) this.requestSnapshot();
      return;
    }
    if (this.send(raw)) this.stats.deltasSent++;
  }

  /** The client needs a fresh snapshot (it asked, it fell behind, or the engine restarted). */
  requestSnapshot(): void {
    if (this.#done) return;
    if (this.owesSnapshot) {
      this.stats.snapshotsCoalesced++;
      return;
    }
    this.#owedSince = performance.now();
    this.#flush();
    if (this.owesSnapshot && this.#poll === undefined) {
      this.#poll = setInterval(() => this.#flush(), this.opts.pollMs ?? 25);
    }
  }

  /** Stops the drain poll; nothing is sent after this. */
  close(): void {
    this.#done = true;
    this.#stopPoll();
  }

  #flush(): void {
    if (this.#done || !this.owesSnapshot) return this.#stopPoll();
    if (this.socket.bufferedAmount > this.opts.softBytes / 4) {
      const waited = performance.now() - this.#owedSince;
      if (waited > this.opts.stallMs) {
        this.#giveUp(
          `too slow: send buffer over ${
            this.opts.softBytes >> 2
          } bytes for ${this.opts.stallMs} ms`,
        );
      }
      return;
    }
    const text = this.snapshot();
    this.#owedSince = -1;
    this.#stopPoll();
    if (text !== null && this.send(text)) this.stats.snapshotsSent++;
  }

  #stopPoll(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  #giveUp(reason: string): void {
    this.close();
    this.onTooSlow(reason);
  }
}

/**
 * What one viewer's socket has been sent but has not acknowledged, oldest first.
 *
 * `bufferedAmount` only sees the runtime's own queue; a slow link's backlog sits in the kernel's
 * socket buffers (megabytes on loopback, seconds of video at tablet speeds) where nobody looks.
 * The page acknowledges each frame as it arrives, so everything between `sent` and `ack` is in
 * the network, whichever buffer holds it. TCP delivers in order, so an ack for one frame also
 * acknowledges everything sent before it on the socket.
 */

interface Entry {
  stream: number;
  frame: number;
  bytes: number;
  sentMs: number;
}

/** How far back the delivery rate looks. */
const RATE_WINDOW_MS = 1000;

export class InFlight {
  #q: Entry[] = [];
  #head = 0;
  #bytes = 0;
  /** Acknowledged and sent (time, bytes), for the delivery and send rates. */
  #acked: { atMs: number; bytes: number }[] = [];
  #sent: { atMs: number; bytes: number }[] = [];

  get frames(): number {
    return this.#q.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** How long the oldest unacknowledged frame has been out (0: nothing in flight). */
  oldestAgeMs(nowMs: number): number {
    return this.frames ? nowMs - this.#q[this.#head].sentMs : 0;
  }

  sent(stream: number, frame: number, bytes: number, nowMs: number): void {
    this.#q.push({ stream, frame, bytes, sentMs: nowMs });
    this.#bytes += bytes;
    this.#sent.push({ atMs: nowMs, bytes });
    this.#trim(nowMs);
  }

  /**
   * The page received (stream, frame). Returns that frame's send → ack time in ms, or null when
   * no such frame is in flight (a duplicate, a stale or a made-up ack: ignored).
   */
  ack(stream: number, frame: number, nowMs: number): number | null {
    let i = this.#head;
    while (i < this.#q.length && !(this.#q[i].stream === stream && this.#q[i].frame === frame)) {
      i++;
    }
    if (i === this.#q.length) return null;
    for (let j = this.#head; j <= i; j++) {
      this.#bytes -= this.#q[j].bytes;
      this.#acked.push({ atMs: nowMs, bytes: this.#q[j].bytes });
    }
    const rtt = nowMs - this.#q[i].sentMs;
    this.#head = i + 1;
    if (this.#head > 256 && this.#head * 2 > this.#q.length) {
      this.#q = this.#q.slice(this.#head);
      this.#head = 0;
    }
    this.#trim(nowMs);
    return rtt;
  }

  /** Bytes per second the page acknowledged over the last second. */
  deliveryRate(nowMs: number): number {
    this.#trim(nowMs);
    return sum(this.#acked) * 1000 / RATE_WINDOW_MS;
  }

  /** Bytes per second sent over the last second. */
  sendRate(nowMs: number): number {
    this.#trim(nowMs);
    return sum(this.#sent) * 1000 / RATE_WINDOW_MS;
  }

  /** Forgets one stream's frames (unsubscribed): their acks may never come. */
  forget(stream: number): void {
    const keep = this.#q.slice(this.#head).filter((e) => e.stream !== stream);
    this.#q = keep;
    this.#head = 0;
    this.#bytes = keep.reduce((s, e) => s + e.bytes, 0);
  }

  #trim(nowMs: number): void {
    for (const list of [this.#acked, this.#sent]) {
      let k = 0;
      while (k < list.length && nowMs - list[k].atMs > RATE_WINDOW_MS) k++;
      if (k) list.splice(0, k);
    }
  }
}

function sum(list: { bytes: number }[]): number {
  let s = 0;
  for (const x of list) s += x.bytes;
  return s;
}

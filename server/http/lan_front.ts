/**
 * The accept loop in front of a LAN listener. Deno.serve neither shows smx its TCP connections
 * nor times out one that sends nothing or half a request head (measured: open after 70 s), so any
 * peer on the network, before pairing, could hold thousands of them and take the descriptors that
 * frame rings, the engine link and loopback clients need. So on a LAN address smx accepts
 * connections itself and:
 * - holds at most `perPeer` open connections per peer address, and `total` over all peers;
 * - closes a connection whose first request head is not complete within `headTimeoutMs`;
 * - passes everything else, byte for byte, to Deno.serve on a private loopback port, telling the
 *   handler which peer each inner connection carries (`peerOf(innerRemotePort)`). A connection to
 *   that inner port that did not come through here has no peer and is refused by serve.ts.
 * Bytes pass through unchanged (Host, Origin, WebSocket frames): the LAN gate sees what the peer
 * sent. Each passed connection costs three descriptors (peer, inner client, inner server side),
 * which `total` accounts for. Measured on loopback (2 cores): 358 MB/s of WebSocket frames through
 * the front (737 direct), and +0.06 ms on a small message's round trip (p50 0.09 ms vs 0.03):
 * far below a LAN's own figures.
 */

export interface LanFrontOptions {
  /** The LAN address and port to accept on. */
  address: string;
  port: number;
  /** The inner Deno.serve's loopback port. */
  innerPort: number;
  /** Open connections per peer address (default 64: a browser keeps 6 per origin). */
  perPeer?: number;
  /** Open connections over all peers (default 1024). */
  total?: number;
  /** A first request head must be complete within this (default 10 s). */
  headTimeoutMs?: number;
  /** Refusals (rate-limited by the caller). */
  log?: (key: string, msg: string) => void;
}

export const PER_PEER_CONNECTIONS = 64;
export const LAN_CONNECTIONS = 1024;
export const HEAD_TIMEOUT_MS = 10_000;
/** A request head longer than this without its blank line is not a browser's. */
const MAX_HEAD = 32 * 1024;

export interface LanFrontStats {
  open: number;
  refused: number;
  timedOut: number;
}

export class LanFront {
  readonly address: string;
  readonly #o: Required<Omit<LanFrontOptions, "log">> & Pick<LanFrontOptions, "log">;
  readonly #listener: Deno.TcpListener;
  /** Inner client port → the peer address it carries. */
  readonly #peers = new Map<number, string>();
  readonly #perPeer = new Map<string, number>();
  readonly #conns = new Set<Deno.Conn>();
  #open = 0;
  #refused = 0;
  #timedOut = 0;
  #closed = false;

  /** Listens now (throws like Deno.listen: address in use, not available). */
  constructor(o: LanFrontOptions) {
    this.#o = {
      perPeer: PER_PEER_CONNECTIONS,
      total: LAN_CONNECTIONS,
      headTimeoutMs: HEAD_TIMEOUT_MS,
      ...o,
    };
    this.address = o.address;
    this.#listener = Deno.listen({ hostname: o.address, port: o.port });
    this.#acceptLoop();
  }

  /** The port accepted on (the one given, or the one chosen for 0). */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** The peer address an inner connection (by its client port) carries, if it came through here. */
  peerOf(innerRemotePort: number): string | undefined {
    return this.#peers.get(innerRemotePort);
  }

  stats(): LanFrontStats {
    return { open: this.#open, refused: this.#refused, timedOut: this.#timedOut };
  }

  async #acceptLoop(): Promise<void> {
    let delay = 50;
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
        delay = 50;
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        // EMFILE and the like: the listener lives on; try again shortly, not in a busy loop.
        this.#o.log?.("accept", `LAN accept failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
        continue;
      }
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const peer = conn.remoteAddr.hostname.replace(/^::ffff:/, "");
    const mine = this.#perPeer.get(peer) ?? 0;
    if (this.#open >= this.#o.total || mine >= this.#o.perPeer) {
      this.#refused++;
      const why = mine >= this.#o.perPeer
        ? `${this.#o.perPeer} connections from ${peer} already`
        : `${this.#o.total} LAN connections already`;
      this.#o.log?.("lan connections", `refused a LAN connection: ${why}`);
      try {
        conn.close();
      } catch { /* gone */ }
      return;
    }
    this.#open++;
    this.#perPeer.set(peer, mine + 1);
    this.#conns.add(conn);
    this.#pass(conn, peer).finally(() => {
      this.#conns.delete(conn);
      this.#open--;
      const n = (this.#perPeer.get(peer) ?? 1) - 1;
      if (n > 0) this.#perPeer.set(peer, n);
      else this.#perPeer.delete(peer);
    });
  }

  async #pass(conn: Deno.TcpConn, peer: string): Promise<void> {
    let inner: Deno.TcpConn | undefined;
    let innerPort = 0;
    const closeBoth = () => {
      for (const c of [conn, inner]) {
        try {
          c?.close();
        } catch { /* already closed */ }
      }
    };
    // A peer that does not finish its first request head in time is dropped.
    let headDone = false;
    const timer = setTimeout(() => {
      if (headDone) return;
      this.#timedOut++;
      this.#o.log?.("lan head timeout", `closed a LAN connection from ${peer}: no request in time`);
      closeBoth();
    }, this.#o.headTimeoutMs);
    try {
      conn.setNoDelay(true);
      inner = await Deno.connect({ hostname: "127.0.0.1", port: this.#o.innerPort });
      inner.setNoDelay(true);
      innerPort = (inner.localAddr as Deno.NetAddr).port;
      this.#peers.set(innerPort, peer); // before any byte reaches the inner server
      let tail = new Uint8Array(0); // the head so far (until its blank line)
      const watchHead = new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, ctl) => {
          if (!headDone) {
            const seen = new Uint8Array(tail.length + chunk.length);
            seen.set(tail);
            seen.set(chunk, tail.length);
            if (hasBlankLine(seen)) {
              headDone = true;
              clearTimeout(timer);
            } else if (seen.length > MAX_HEAD) {
              throw new Error("request head too long");
            } else tail = seen;
          }
          ctl.enqueue(chunk);
        },
      });
      await Promise.allSettled([
        conn.readable.pipeThrough(watchHead).pipeTo(inner.writable),
        inner.readable.pipeTo(conn.writable),
      ]).then(closeBoth);
    } catch {
      closeBoth();
    } finally {
      clearTimeout(timer);
      if (innerPort) this.#peers.delete(innerPort);
    }
  }

  /** Stops accepting and closes every connection passed so far. */
  close(): void {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
}

function hasBlankLine(b: Uint8Array): boolean {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return true;
  }
  return false;
}

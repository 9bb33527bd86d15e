/**
 * The ceiling on live HTTP connections, so that descriptor exhaustion refuses clients instead of
 * failing whatever else smx opens next (a frame ring, a port file, the engine link, accept()).
 *
 * What is counted: requests in flight and open WebSockets, each of which holds at least one
 * descriptor (an HTTP/2 connection carrying several requests is counted several times: safe).
 * What is not: TCP connections Deno.serve accepted but that carry no request right now, i.e. idle
 * keep-alive connections between requests and connections that have not finished their request
 * head. Deno.serve does not expose them, never times an idle one out (measured: still open after
 * 200 s; one that never sends a byte, or half a request head, still open after 70 s) and ignores
 * a handler's `Connection: close`; they come out of FD_RESERVE below (a browser keeps at most 6
 * idle per origin). On a LAN address, where any peer on the network connects before pairing,
 * smx accepts connections itself (http/lan_front.ts): 64 per peer address, a quarter of this
 * ceiling over all peers, and a first request head within 10 s. Should a local client hoard them
 * anyway, accept() fails and http/keep_listening.ts takes over.
 */

/**
 * Descriptors kept for everything but HTTP clients. Measured at rest with the demo engine: about
 * 35 (Deno's own caches, epoll and stdio ≈ 20; the demo engine's pipes and pidfd; the engine link
 * and the listening socket). On top of that come descriptors opened now and then, and each must
 * succeed: frame-ring (re)opens (one per ring while mapping it), discovery's port files and
 * /hello fetches, NVENC sessions (several /dev/nvidia* handles per encoder), esbuild and the UI
 * watcher in --dev, and the uncounted idle or refused connections above. 128 covers that with
 * room to spare; at the common soft limit of 1024 it still leaves 896 clients.
 */
export const FD_RESERVE = 128;
/** Never fewer than this, however low the limit: smx must stay usable by a few browser tabs. */
export const MIN_CONNECTIONS = 16;

/** The default ceiling for an open-files soft limit; Infinity when there is no known limit. */
export function defaultMaxConnections(softLimit: number | undefined): number {
  if (softLimit === undefined || !Number.isFinite(softLimit) || softLimit <= 0) return Infinity;
  return Math.max(MIN_CONNECTIONS, Math.floor(softLimit) - FD_RESERVE);
}

export interface ConnectionStats {
  /** requests + webSockets */
  live: number;
  requests: number;
  webSockets: number;
  max: number | null;
  /** The highest `live` seen. */
  peak: number;
  /** Requests and upgrades refused at the ceiling since start. */
  refused: number;
}

/** One admitted request; it holds its place until released (as a WebSocket, once upgraded). */
export interface Slot {
  /** The request became a WebSocket: from now on it counts as one. */
  upgraded(): void;
  /** Idempotent. */
  release(): void;
}

export class ConnectionLimit {
  #requests = 0;
  #webSockets = 0;
  #peak = 0;
  #refused = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`maxConnections must be at least 1 (got ${max})`);
  }

  get live(): number {
    return this.#requests + this.#webSockets;
  }

  /** A place for one more request, or null at the ceiling (then counted as refused). */
  admit(): Slot | null {
    if (this.live >= this.max) {
      this.#refused++;
      return null;
    }
    this.#requests++;
    this.#peak = Math.max(this.#peak, this.live);
    let state: "request" | "webSocket" | "released" = "request";
    return {
      upgraded: () => {
        if (state !== "request") return;
        state = "webSocket";
        this.#requests--;
        this.#webSockets++;
      },
      release: () => {
        if (state === "request") this.#requests--;
        else if (state === "webSocket") this.#webSockets--;
        state = "released";
      },
    };
  }

  stats(): ConnectionStats {
    return {
      live: this.live,
      requests: this.#requests,
      webSockets: this.#webSockets,
      max: Number.isFinite(this.max) ? this.max : null,
      peak: this.#peak,
      refused: this.#refused,
    };
  }
}

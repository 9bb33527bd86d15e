/**
 * A WebSocket that comes back by itself: capped exponential backoff with jitter, an immediate
 * retry when the page becomes visible or the browser says it is online again.
 */
import { type ReadonlySignal, signal } from "@preact/signals";
import type { ConnectionState } from "../types.ts";
import { afterClose } from "./close_rule.ts";

export interface SocketHandlers {
  open(ws: WebSocket): void;
  message(ev: MessageEvent): void;
  /** The socket closed (before a reconnect attempt). */
  close?(): void;
}

/** False under Deno (unit tests): no page events to listen to. */
const hasDocument = typeof document !== "undefined";

export const BACKOFF_MIN_MS = 200;
export const BACKOFF_MAX_MS = 3000;

/** The delay before reconnect attempt `n` (0-based), with ±20 % jitter. */
export function backoffMs(n: number, rand = Math.random()): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n, 10));
  return Math.round(base * (0.8 + 0.4 * rand));
}

/** ws:// or wss:// URL for a path on the page's own origin. */
export function sameOriginWs(
  path: string,
  loc: { protocol: string; host: string } = location,
): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${path}`;
}

export class ReconnectingSocket {
  readonly #state = signal<ConnectionState>("connecting");
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Connections opened so far (1 after the first open). */
  opens = 0;

  constructor(readonly url: string, private h: SocketHandlers) {
    if (hasDocument) {
      addEventListener("online", this.#kick);
      document.addEventListener("visibilitychange", this.#kick);
    }
    this.#connect();
  }

  get state(): ReadonlySignal<ConnectionState> {
    return this.#state;
  }

  /** Sends if open; returns false when the message was not sent. */
  send(data: string): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data);
    return true;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (hasDocument) {
      removeEventListener("online", this.#kick);
      document.removeEventListener("visibilitychange", this.#kick);
    }
    this.#ws?.close();
  }

  #kick = (): void => {
    if (this.#closed || this.#ws || document.visibilityState === "hidden") return;
    const st = this.#state.peek();
    if (st === "expired" || st === "disconnected") return; // pairing ended: reconnecting is futile
    clearTimeout(this.#timer);
    this.#connect();
  };

  #connect(): void {
    this.#timer = undefined;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.#retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.onopen = () => {
      this.#attempt = 0;
      this.opens++;
      this.#state.value = "open";
      this.h.open(ws);
    };
    ws.onmessage = (ev) => this.h.message(ev);
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.h.close?.();
      if (this.#closed) return;
      const next = afterClose(ev.code);
      if (next.retry === "backoff") return this.#retry();
      this.#state.value = next.state;
      if (next.retry === "slow") this.#timer = setTimeout(() => this.#connect(), backoffMs(10));
    };
  }

  #retry(): void {
    this.#state.value = this.opens > 0 || this.#attempt > 0 ? "reconnecting" : "connecting";
    this.#timer = setTimeout(() => this.#connect(), backoffMs(this.#attempt++));
  }
}

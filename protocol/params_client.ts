/**
 * One connection to a parameter hub (engine `/ws/hub` or smx `/ws/params`), runtime-neutral: runs
 * in browsers and in Deno. Keeps a ParamStore in sync (snapshot, deltas, gap → `sync`), sends
 * heartbeats and notices a dead link, and turns `set` into a promise settled by the ack or error.
 *
 * It does not reconnect: smx's ParamMirror (server/engine/) and the UI wrap it with their own
 * reconnect policy.
 */
import {
  type AckMsg,
  type ClientMsg,
  type DeltaMsg,
  type ErrorMsg,
  errorMsg,
  type LinkMsg,
  type ParamError,
  type ParamErrorCode,
  type ParamValue,
  parseServerMessage,
  type SnapshotMsg,
  validateValue,
} from "./params.ts";
import { ParamStore } from "./param_store.ts";

/** A refused or failed write: `code` says why (see ParamErrorCode), `message` says it in words. */
export class ParamWriteError extends Error implements ParamError {
  constructor(readonly code: ParamErrorCode, message: string, readonly path?: string) {
    super(message);
    this.name = "ParamWriteError";
  }
}

export type ClientEvent =
  | { type: "snapshot"; msg: SnapshotMsg }
  | { type: "delta"; msg: DeltaMsg; raw: string }
  | { type: "link"; msg: LinkMsg }
  | { type: "error"; msg: ErrorMsg }
  | { type: "close"; code: number; reason: string };

export interface ParamClientOptions {
  /** Heartbeat period: a ping goes out when nothing arrived for half of it. Default 2000. */
  pingMs?: number;
  /** Close the link when nothing arrived for this long. Default 3 × pingMs. */
  deadMs?: number;
  /** Reject a write that got no ack in this time. Default 5000. */
  writeTimeoutMs?: number;
  /** Constructor to use (tests, or a non-global WebSocket). */
  WebSocketImpl?: typeof WebSocket;
}

interface Pending {
  resolve: (a: AckMsg) => void;
  reject: (e: ParamWriteError) => void;
  deadline: number;
  path: string;
}

export class ParamClient {
  readonly store = new ParamStore();
  readonly socket: WebSocket;
  /** Resolves on the first snapshot; rejects if the socket closes before. */
  readonly ready: Promise<void>;
  #listeners = new Set<(e: ClientEvent) => void>();
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #awaitingSync = false;
  #lastIn = Date.now();
  #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #pingMs: number;
  #deadMs: number;
  #writeTimeoutMs: number;

  constructor(url: string, opts: ParamClientOptions = {}) {
    this.#pingMs = opts.pingMs ?? 2000;
    this.#deadMs = opts.deadMs ?? 3 * this.#pingMs;
    this.#writeTimeoutMs = opts.writeTimeoutMs ?? 5000;
    const WS = opts.WebSocketImpl ?? WebSocket;
    this.socket = new WS(url);
    let readyOk!: () => void, readyFail!: (e: Error) => void;
    this.ready = new Promise((res, rej) => (readyOk = res, readyFail = rej));
    this.ready.catch(() => {}); // callers that never await ready must not see an unhandled rejection
    this.socket.onmessage = (ev) => {
      this.#lastIn = Date.now();
      if (typeof ev.data === "string") this.#onText(ev.data, readyOk);
    };
    this.socket.onclose = (ev) => {
      this.#shutdown(ev.code, ev.reason || "connection closed");
      readyFail(new Error(`connection closed (${ev.code} ${ev.reason || "no reason"})`));
    };
    this.socket.onerror = () => {}; // onclose follows and carries the outcome
    // One timer does both jobs: heartbeat/dead-link detection and write deadlines.
    const tick = Math.min(500, this.#pingMs);
    this.#timer = setInterval(() => this.#tick(), tick);
  }

  get open(): boolean {
    return !this.#closed && this.socket.readyState === 1;
  }

  get pendingWrites(): number {
    return this.#pending.size;
  }

  subscribe(fn: (e: ClientEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Writes a channel. Validates against the spec first (refused writes never leave this process),
   * resolves with the ack once the hub applied it (its echo already arrived as a delta).
   */
  set(path: string, value: ParamValue): Promise<AckMsg> {
    const meta = this.store.meta(path);
    if (!this.open) {
      return Promise.reject(new ParamWriteError("engine_offline", "not connected", path));
    }
    if (!meta) {
      return Promise.reject(
        new ParamWriteError("unknown_channel", `no channel named ${JSON.stringify(path)}`, path),
      );
    }
    const bad = validateValue(meta, value);
    if (bad) return Promise.reject(new ParamWriteError(bad.code, bad.message, path));
    const id = this.#nextId++;
    return new Promise<AckMsg>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, path, deadline: Date.now() + this.#writeTimeoutMs });
      this.send({ v: 1, type: "set", id, path, value });
    });
  }

  /** Asks for a fresh snapshot (deltas are ignored until it arrives). */
  sync(): void {
    this.#awaitingSync = true;
    this.send({ v: 1, type: "sync" });
  }

  send(msg: ClientMsg): void {
    if (this.socket.readyState === 1) this.socket.send(JSON.stringify(msg));
  }

  close(code = 1000, reason = "closing"): void {
    try {
      this.socket.close(code, reason);
    } catch { /* already closing */ }
    this.#shutdown(code, reason);
  }

  #emit(e: ClientEvent): void {
    for (const fn of this.#listeners) fn(e);
  }

  #onText(text: string, readyOk: () => void): void {
    const p = parseServerMessage(text);
    if (!p.ok) {
      this.#emit({ type: "error", msg: errorMsg(p.error) });
      return;
    }
    const m = p.msg;
    switch (m.type) {
      case "delta":
        if (this.#awaitingSync) return;
        if (!this.store.applyDelta(m)) {
          this.sync();
          return;
        }
        this.#emit({ type: "delta", msg: m, raw: text });
        return;
      case "snapshot":
        this.#awaitingSync = false;
        this.store.applySnapshot(m);
        this.#emit({ type: "snapshot", msg: m });
        readyOk();
        return;
      case "ack": {
        const w = this.#pending.get(m.id);
        if (w) {
          this.#pending.delete(m.id);
          w.resolve(m);
        }
        return;
      }
      case "error": {
        const w = m.id !== undefined ? this.#pending.get(m.id) : undefined;
        if (w) {
          this.#pending.delete(m.id!);
          w.reject(new ParamWriteError(m.code, m.message, m.path ?? w.path));
        } else this.#emit({ type: "error", msg: m });
        return;
      }
      case "ping":
        this.send({ v: 1, type: "pong", t: m.t });
        return;
      case "pong":
        return;
      case "link":
        this.#emit({ type: "link", msg: m });
        return;
    }
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastIn > this.#deadMs) {
      this.close(4000, `no message from the hub for ${this.#deadMs} ms`);
      return;
    }
    if (now - this.#lastIn > this.#pingMs / 2) this.send({ v: 1, type: "ping", t: now });
    for (const [id, w] of this.#pending) {
      if (w.deadline <= now) {
        this.#pending.delete(id);
        w.reject(
          new ParamWriteError(
            "timeout",
            `no ack for ${w.path} within ${this.#writeTimeoutMs} ms`,
            w.path,
          ),
        );
      }
    }
  }

  #shutdown(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const w of this.#pending.values()) {
      w.reject(
        new ParamWriteError(
          "engine_offline",
          `link closed before ${w.path} was acknowledged (${reason}); the next snapshot shows whether it applied`,
          w.path,
        ),
      );
    }
    this.#pending.clear();
    this.#emit({ type: "close", code, reason });
  }
}

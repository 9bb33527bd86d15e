/**
 * ParamSource over smx's `/ws/params` (protocol/params.ts): a mirror built from the snapshot and
 * the deltas, one signal per channel (a change re-renders only the controls that read it), writes
 * sent as `set` and settled by `ack`/`error`. Nothing is applied optimistically.
 */
import { batch, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import {
  type ChannelMeta,
  type ClientMsg,
  encodeMessage,
  forEachChange,
  type ParamValue,
  parseServerMessage,
  type ServerMsg,
  validateValue,
} from "../../../protocol/params.ts";
import { type ConnectionState, type EngineStatus, ParamSource, ParamWriteError } from "../types.ts";
import { ReconnectingSocket } from "./socket.ts";

/** How long a write may wait for its ack before it is given up. */
export const WRITE_TIMEOUT_MS = 5000;

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

interface PathWrites {
  /** The `set` on the wire, awaiting ack/error. */
  inFlight: { id: number; waiters: Waiter[]; timer: ReturnType<typeof setTimeout> } | null;
  /** The newest value waiting for the in-flight one to settle. */
  next: { value: ParamValue; waiters: Waiter[] } | null;
}

export class LocalParamSource implements ParamSource {
  readonly #socket: ReconnectingSocket;
  readonly #engine = signal<EngineStatus>({ state: "connecting", name: null });
  readonly #channels = signal<readonly ChannelMeta[]>([]);
  readonly #values = new Map<string, Signal<ParamValue | undefined>>();
  #meta = new Map<string, ChannelMeta>();
  #rev = -1;
  #instance = "";
  #nextId = 1;
  readonly #writes = new Map<string, PathWrites>();
  readonly #byId = new Map<number, string>();
  /** Diagnostics. */
  stats = { snapshots: 0, deltas: 0, gaps: 0, acks: 0, errors: 0, sets: 0 };

  constructor(url: string, private onEngineChange?: (s: EngineStatus) => void) {
    this.#socket = new ReconnectingSocket(url, {
      open: () => {},
      message: (ev) => typeof ev.data === "string" && this.#onMessage(ev.data),
      close: () => this.#failAll("connection to smx lost"),
    });
  }

  get state(): ReadonlySignal<ConnectionState> {
    return this.#socket.state;
  }
  get engine(): ReadonlySignal<EngineStatus> {
    return this.#engine;
  }
  get channels(): ReadonlySignal<readonly ChannelMeta[]> {
    return this.#channels;
  }
  get rev(): number {
    return this.#rev;
  }
  get pendingWrites(): number {
    return this.#byId.size;
  }

  value(path: string): ReadonlySignal<ParamValue | undefined> {
    let s = this.#values.get(path);
    if (!s) {
      s = signal<ParamValue | undefined>(undefined);
      this.#values.set(path, s);
    }
    return s;
  }

  write(path: string, value: ParamValue): Promise<void> {
    const meta = this.#meta.get(path);
    if (meta) {
      const bad = validateValue(meta, value);
      if (bad) return Promise.reject(new ParamWriteError(bad.message, path));
    }
    if (this.#socket.state.peek() !== "open") {
      return Promise.reject(new ParamWriteError("not connected to smx", path));
    }
    return new Promise<void>((resolve, reject) => {
      const w = this.#writes.get(path) ?? { inFlight: null, next: null };
      this.#writes.set(path, w);
      if (!w.inFlight) {
        this.#sendSet(path, w, value, [{ resolve, reject }]);
      } else {
        // Coalesce: a newer value replaces the waiting one, whose callers are settled with it.
        const waiters = w.next?.waiters ?? [];
        waiters.push({ resolve, reject });
        w.next = { value, waiters };
      }
    });
  }

  #send(m: ClientMsg): boolean {
    return this.#socket.send(encodeMessage(m));
  }

  #sendSet(path: string, w: PathWrites, value: ParamValue, waiters: Waiter[]): void {
    const id = this.#nextId++;
    if (!this.#send({ v: 1, type: "set", id, path, value })) {
      for (const x of waiters) x.reject(new ParamWriteError("not connected to smx", path));
      return;
    }
    this.stats.sets++;
    const timer = setTimeout(
      () => this.#settle(id, `no answer within ${WRITE_TIMEOUT_MS} ms`),
      WRITE_TIMEOUT_MS,
    );
    w.inFlight = { id, waiters, timer };
    this.#byId.set(id, path);
  }

  /** Settles the set `id` (error message, or null for success) and sends the path's next value. */
  #settle(id: number, error: string | null): void {
    const path = this.#byId.get(id);
    if (path === undefined) return;
    this.#byId.delete(id);
    const w = this.#writes.get(path);
    if (!w?.inFlight || w.inFlight.id !== id) return;
    clearTimeout(w.inFlight.timer);
    for (const x of w.inFlight.waiters) {
      if (error === null) x.resolve();
      else x.reject(new ParamWriteError(error, path));
    }
    w.inFlight = null;
    const next = w.next;
    w.next = null;
    if (next) this.#sendSet(path, w, next.value, next.waiters);
    else this.#writes.delete(path);
  }

  #failAll(message: string): void {
    for (const [path, w] of this.#writes) {
      if (w.inFlight) clearTimeout(w.inFlight.timer);
      for (const x of [...(w.inFlight?.waiters ?? []), ...(w.next?.waiters ?? [])]) {
        x.reject(new ParamWriteError(message, path));
      }
    }
    this.#writes.clear();
    this.#byId.clear();
  }

  #setEngine(s: EngineStatus): void {
    const p = this.#engine.peek();
    if (p.state === s.state && p.name === s.name && p.message === s.message) return;
    this.#engine.value = s;
    this.onEngineChange?.(s);
  }

  #onMessage(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) return;
    const m: ServerMsg = parsed.msg;
    switch (m.type) {
      case "snapshot": {
        this.stats.snapshots++;
        this.#rev = m.rev;
        this.#instance = m.instanceId;
        const meta = new Map<string, ChannelMeta>();
        for (const c of m.channels) meta.set(c.path, c);
        this.#meta = meta;
        batch(() => {
          for (const [path, s] of this.#values) s.value = m.values[path];
          for (const path in m.values) {
            (this.value(path) as Signal<ParamValue | undefined>).value = m.values[path];
          }
          const prev = this.#channels.peek();
          if (JSON.stringify(prev) !== JSON.stringify(m.channels)) {
            this.#channels.value = m.channels;
          }
        });
        if (m.engine) {
          const e = this.#engine.peek();
          if (e.state === "connecting") this.#setEngine({ state: "connected", name: m.engine });
        }
        return;
      }
      case "delta": {
        this.stats.deltas++;
        const n = m.changes.length / 2;
        if (this.#rev < 0) return; // a snapshot is on its way (connect, sync or engine restart)
        if (m.rev !== this.#rev + n) {
          // A gap: our mirror may be wrong. Apply nothing from it; ask for a fresh snapshot.
          this.stats.gaps++;
          this.#rev = -1;
          this.#send({ v: 1, type: "sync" });
          return;
        }
        this.#rev = m.rev;
        batch(() =>
          forEachChange(m, (path, value) => {
            (this.value(path) as Signal<ParamValue | undefined>).value = value;
          })
        );
        return;
      }
      case "ack":
        this.stats.acks++;
        this.#settle(m.id, null);
        return;
      case "error":
        this.stats.errors++;
        if (m.id !== undefined) this.#settle(m.id, m.message);
        else console.warn("smx params:", m.code, m.message);
        return;
      case "ping":
        this.#send({ v: 1, type: "pong", t: m.t });
        return;
      case "pong":
        return;
      case "link":
        this.#setEngine({
          state: m.state,
          name: m.engine?.name ?? null,
          ...(m.message ? { message: m.message } : {}),
        });
        if (m.engine && m.engine.instanceId !== this.#instance && this.#instance) {
          // A new engine instance: its snapshot follows; the old mirror is not valid any more.
          this.#rev = -1;
        }
        return;
    }
  }
}

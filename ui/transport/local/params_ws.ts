/**
 * ParamSource over smx's `/ws/params`, built on the shared runtime-neutral `ParamClient`
 * (protocol/params_client.ts: mirror store, rev-checked deltas with gap → sync, heartbeat and
 * dead-link detection, set → ack/error). This file adds what the UI needs on top:
 *  - reconnect with capped backoff (ParamClient does not reconnect by design);
 *  - one signal per channel, so a change re-renders only the controls that read it;
 *  - per-path write coalescing: at most one `set` in flight per path, the newest waiting value
 *    goes next (a 1 kHz mouse on a slider does not flood the hub);
 *  - nothing optimistic: values change only with the hub's snapshot/delta.
 */
import { batch, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import type { ChannelMeta, ParamValue } from "../../../protocol/params.ts";
import { ParamClient, ParamWriteError } from "../../../protocol/params_client.ts";
import type { ConnectionState, EngineStatus, ParamSource } from "../types.ts";
import { afterClose } from "./close_rule.ts";
import { backoffMs } from "./socket.ts";

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

interface PathWrites {
  inFlight: Waiter[] | null;
  next: { value: ParamValue; waiters: Waiter[] } | null;
}

export interface LocalParamOptions {
  /** Called when the engine's state or name changes (smx refreshes /hello then). */
  onEngineChange?: (s: EngineStatus) => void;
  /** ParamClient heartbeat period (ms). */
  pingMs?: number;
}

export class LocalParamSource implements ParamSource {
  readonly #state = signal<ConnectionState>("connecting");
  readonly #engine = signal<EngineStatus>({ state: "connecting", name: null });
  readonly #channels = signal<readonly ChannelMeta[]>([]);
  readonly #values = new Map<string, Signal<ParamValue | undefined>>();
  readonly #writes = new Map<string, PathWrites>();
  #client: ParamClient | null = null;
  #attempt = 0;
  #opens = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Diagnostics. */
  stats = { snapshots: 0, deltas: 0, sets: 0, acks: 0, errors: 0, reconnects: 0 };

  constructor(readonly url: string, private opts: LocalParamOptions = {}) {
    this.#connect();
  }

  get state(): ReadonlySignal<ConnectionState> {
    return this.#state;
  }
  get engine(): ReadonlySignal<EngineStatus> {
    return this.#engine;
  }
  get channels(): ReadonlySignal<readonly ChannelMeta[]> {
    return this.#channels;
  }
  get rev(): number {
    return this.#client?.store.rev ?? -1;
  }
  get pendingWrites(): number {
    return this.#client?.pendingWrites ?? 0;
  }

  value(path: string): ReadonlySignal<ParamValue | undefined> {
    let s = this.#values.get(path);
    if (!s) {
      s = signal<ParamValue | undefined>(this.#client?.store.get(path));
      this.#values.set(path, s);
    }
    return s;
  }

  write(path: string, value: ParamValue): Promise<void> {
    const c = this.#client;
    if (!c || !c.open || this.#state.peek() !== "open") {
      return Promise.reject(new ParamWriteError("engine_offline", "not connected to smx", path));
    }
    return new Promise<void>((resolve, reject) => {
      const w = this.#writes.get(path);
      if (!w) {
        const fresh: PathWrites = { inFlight: null, next: null };
        this.#writes.set(path, fresh);
        this.#send(c, path, fresh, value, [{ resolve, reject }]);
      } else {
        // Coalesce: a newer value replaces the waiting one; its callers settle with the newer.
        const waiters = w.next?.waiters ?? [];
        waiters.push({ resolve, reject });
        w.next = { value, waiters };
      }
    });
  }

  /** Closes the link for good (tests, page teardown). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#client?.close();
  }

  #send(c: ParamClient, path: string, w: PathWrites, value: ParamValue, waiters: Waiter[]): void {
    w.inFlight = waiters;
    this.stats.sets++;
    const settle = (err: Error | null) => {
      if (err) this.stats.errors++;
      else this.stats.acks++;
      for (const x of waiters) err ? x.reject(err) : x.resolve();
      w.inFlight = null;
      const next = w.next;
      w.next = null;
      if (!next) {
        if (this.#writes.get(path) === w) this.#writes.delete(path);
        return;
      }
      if (c !== this.#client || !c.open) {
        const e = new ParamWriteError("engine_offline", "not connected to smx", path);
        for (const x of next.waiters) x.reject(e);
        if (this.#writes.get(path) === w) this.#writes.delete(path);
        return;
      }
      this.#send(c, path, w, next.value, next.waiters);
    };
    c.set(path, value).then(() => settle(null), (e: Error) => settle(e));
  }

  #setEngine(s: EngineStatus): void {
    const p = this.#engine.peek();
    if (p.state === s.state && p.name === s.name && p.message === s.message) return;
    this.#engine.value = s;
    this.opts.onEngineChange?.(s);
  }

  /** Pushes the store's values into the signals (after a snapshot). */
  #syncAll(c: ParamClient): void {
    batch(() => {
      for (const [path, s] of this.#values) s.value = c.store.get(path);
      for (const path of c.store.entries.keys()) this.value(path);
      const metas = c.store.metas;
      if (JSON.stringify(this.#channels.peek()) !== JSON.stringify(metas)) {
        this.#channels.value = metas;
      }
    });
  }

  #connect(): void {
    this.#timer = undefined;
    let c: ParamClient;
    try {
      c = new ParamClient(this.url, { pingMs: this.opts.pingMs });
    } catch {
      this.#retry();
      return;
    }
    this.#client = c;
    c.socket.addEventListener("open", () => {
      if (this.#client !== c) return;
      this.#attempt = 0;
      this.#opens++;
      this.#state.value = "open";
    });
    c.subscribe((e) => {
      if (this.#client !== c) return;
      switch (e.type) {
        case "snapshot":
          this.stats.snapshots++;
          this.#syncAll(c);
          if (this.#engine.peek().state === "connecting" && e.msg.engine) {
            this.#setEngine({ state: "connected", name: e.msg.engine });
          }
          return;
        case "delta": {
          this.stats.deltas++;
          const ch = e.msg.changes;
          batch(() => {
            for (let i = 0; i + 1 < ch.length; i += 2) {
              (this.value(ch[i] as string) as Signal<ParamValue | undefined>).value =
                ch[i + 1] as ParamValue;
            }
          });
          return;
        }
        case "link":
          this.#setEngine({
            state: e.msg.state,
            name: e.msg.engine?.name ?? null,
            ...(e.msg.message ? { message: e.msg.message } : {}),
          });
          return;
        case "error":
          console.warn("smx params:", e.msg.code, e.msg.message);
          return;
        case "close": {
          this.#client = null;
          if (this.#closed) return;
          const next = afterClose(e.code);
          if (next.retry === "backoff") return this.#retry();
          this.#state.value = next.state;
          if (next.retry === "slow") {
            this.#timer = setTimeout(() => this.#connect(), backoffMs(10));
          }
          return;
        }
      }
    });
  }

  #retry(): void {
    this.#state.value = this.#opens > 0 || this.#attempt > 0 ? "reconnecting" : "connecting";
    this.stats.reconnects++;
    this.#timer = setTimeout(() => this.#connect(), backoffMs(this.#attempt++));
  }
}

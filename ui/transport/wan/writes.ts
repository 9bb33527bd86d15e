/**
 * Writes as the WAN page makes them, pure logic shared by nothing else:
 *  - per-path coalescing (the local reach's rule, transport/local/params_ws.ts): at most one
 *    `set` in flight per path, the newest waiting value goes next and its callers settle with it,
 *    so a 1 kHz mouse on a slider does not flood Centrifugo;
 *  - acks by id: a `set` published on smx_ctl is settled by the `ack` or `error` smx addresses
 *    `to` this page's client id on smx_params, or by a timeout.
 */
import type { ParamValue } from "../../../protocol/params.ts";
import { ParamWriteError } from "../../../protocol/params_client.ts";

/** A write with no answer in this time is rejected (ParamClient's default). */
export const WRITE_TIMEOUT_MS = 5000;

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

interface PathWrites {
  next: { value: ParamValue; waiters: Waiter[] } | null;
}

export class CoalescedWrites {
  readonly #paths = new Map<string, PathWrites>();

  /** `send`: one write on the wire; settles when the engine applied or refused it. */
  constructor(private send: (path: string, value: ParamValue) => Promise<void>) {}

  write(path: string, value: ParamValue): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = this.#paths.get(path);
      if (!w) {
        const fresh: PathWrites = { next: null };
        this.#paths.set(path, fresh);
        this.#go(path, fresh, value, [{ resolve, reject }]);
      } else {
        const waiters = w.next?.waiters ?? [];
        waiters.push({ resolve, reject });
        w.next = { value, waiters };
      }
    });
  }

  /** Paths with a write in flight. */
  get inFlight(): number {
    return this.#paths.size;
  }

  #go(path: string, w: PathWrites, value: ParamValue, waiters: Waiter[]): void {
    let p: Promise<void>;
    try {
      p = this.send(path, value);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(() => this.#settle(path, w, waiters, null), (e) => this.#settle(path, w, waiters, e));
  }

  #settle(path: string, w: PathWrites, waiters: Waiter[], err: Error | null): void {
    for (const x of waiters) err ? x.reject(err) : x.resolve();
    const next = w.next;
    w.next = null;
    if (!next) {
      if (this.#paths.get(path) === w) this.#paths.delete(path);
      return;
    }
    this.#go(path, w, next.value, next.waiters);
  }
}

interface Pending {
  path: string;
  deadline: number;
  resolve(): void;
  reject(e: ParamWriteError): void;
}

/** `set` ids waiting for their ack (smx answers `to` this page's client id). */
export class PendingAcks {
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(private timeoutMs = WRITE_TIMEOUT_MS, private now: () => number = Date.now) {}

  get size(): number {
    return this.#pending.size;
  }

  /** A new id and the promise its answer settles. */
  open(path: string): { id: number; done: Promise<void> } {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0x7fffffff ? 1 : this.#nextId + 1;
    const done = new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { path, deadline: this.now() + this.timeoutMs, resolve, reject });
    });
    return { id, done };
  }

  ack(id: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.resolve();
  }

  error(id: number, code: string, message: string, path?: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.reject(new ParamWriteError(code as ParamWriteError["code"], message, path ?? p.path));
  }

  /** Fails one id at once (its publish did not go out). */
  fail(id: number, e: ParamWriteError): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    p.reject(e);
  }

  /** Rejects the writes past their deadline. */
  expire(): void {
    const t = this.now();
    for (const [id, p] of this.#pending) {
      if (p.deadline > t) continue;
      this.#pending.delete(id);
      p.reject(
        new ParamWriteError("timeout", `no ack for ${p.path} within ${this.timeoutMs} ms`, p.path),
      );
    }
  }

  /** Rejects everything (the link went down; the next state shows whether they applied). */
  failAll(reason: string): void {
    for (const p of this.#pending.values()) {
      p.reject(
        new ParamWriteError(
          "engine_offline",
          `link closed before ${p.path} was acknowledged (${reason}); the next state shows whether it applied`,
          p.path,
        ),
      );
    }
    this.#pending.clear();
  }
}

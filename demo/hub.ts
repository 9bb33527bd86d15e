/**
 * The demo engine's parameter hub: the source of truth for every channel value. Speaks the hub
 * protocol of protocol/params.ts to each connected client (smx, tests): snapshot on connect,
 * ordered deltas with a rev, set → apply → echo (delta) → ack, errors for anything refused.
 *
 * Batching: changes made by the engine itself are flushed every `batchMs` (many changes, one
 * message); a client's write is flushed at the end of the current task, so a write's round trip
 * is not held back by the batch interval.
 */
import {
  type ChannelMeta,
  errorMsg,
  messageText,
  normalizeValue,
  type ParamError,
  type ParamValue,
  parseClientMessage,
  type SetMsg,
  type SnapshotMsg,
  validateValue,
} from "../protocol/params.ts";

interface Entry {
  readonly meta: ChannelMeta;
  value: ParamValue;
}

interface Conn {
  socket: WebSocket;
  /** Flat [id, rev, id, rev, ...] acks to send after the next delta. */
  acks: number[];
  lastIn: number;
  lastPing: number;
}

export interface HubStats {
  connections: number;
  rev: number;
  setsReceived: number;
  setsApplied: number;
  setsRefused: number;
  badMessages: number;
  deltasSent: number;
}

export interface HubOptions {
  instanceId: string;
  engine: string;
  /** Flush interval for engine-side changes, ms. Default 4. */
  batchMs?: number;
  /** Close a client that sent nothing for this long; idle ones are pinged first. Default 15000. */
  idleMs?: number;
}

export class ParamHub {
  readonly stats: HubStats = {
    connections: 0,
    rev: 0,
    setsReceived: 0,
    setsApplied: 0,
    setsRefused: 0,
    badMessages: 0,
    deltasSent: 0,
  };
  #entries = new Map<string, Entry>();
  #metas: ChannelMeta[];
  #rev = 0;
  #pending: (string | ParamValue)[] = [];
  #conns = new Set<Conn>();
  #ackConns = new Set<Conn>();
  #microtask = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setInterval>;
  #listeners = new Set<(path: string, value: ParamValue) => void>();
  #batchMs: number;

  constructor(channels: ChannelMeta[], readonly opts: HubOptions) {
    this.#metas = channels;
    for (const meta of channels) {
      const v = meta.type === "trigger" ? 0 : meta.default;
      this.#entries.set(meta.path, { meta, value: Array.isArray(v) ? v.slice() : v });
    }
    this.#batchMs = opts.batchMs ?? 4;
    const idleMs = opts.idleMs ?? 15000;
    this.#idleTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#conns) {
        if (now - c.lastIn > idleMs) c.socket.close(4000, `idle for ${idleMs} ms`);
        else if (now - c.lastIn > idleMs / 3 && now - c.lastPing > idleMs / 3) {
          c.lastPing = now; // a client that does not ping by itself still answers pings
          this.#send(c, `{"v":1,"type":"ping","t":${now}}`);
        }
      }
    }, Math.min(1000, idleMs));
  }

  get rev(): number {
    return this.#rev;
  }

  get channels(): readonly ChannelMeta[] {
    return this.#metas;
  }

  get(path: string): ParamValue | undefined {
    return this.#entries.get(path)?.value;
  }

  /** Called synchronously for every applied change (the renderer maps them to its picture). */
  onChange(fn: (path: string, value: ParamValue) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** An engine-side change (animation, meters, churn). Unknown paths are ignored. */
  set(path: string, value: ParamValue): void {
    const e = this.#entries.get(path);
    if (!e) return;
    this.#apply(e, value);
    this.#schedule(false);
  }

  snapshot(): SnapshotMsg {
    this.#flush(); // a snapshot must not contain changes a later delta would repeat
    const values: Record<string, ParamValue> = {};
    for (const [p, e] of this.#entries) values[p] = e.value;
    return {
      v: 1,
      type: "snapshot",
      rev: this.#rev,
      instanceId: this.opts.instanceId,
      engine: this.opts.engine,
      channels: this.#metas,
      values,
    };
  }

  /** Serves one hub client on an accepted (open or opening) WebSocket. */
  attach(socket: WebSocket): void {
    const conn: Conn = { socket, acks: [], lastIn: Date.now(), lastPing: 0 };
    socket.binaryType = "arraybuffer";
    const start = () => {
      // Snapshot first (it flushes pending changes to the others), then join the broadcast.
      socket.send(JSON.stringify(this.snapshot()));
      this.#conns.add(conn);
      this.stats.connections = this.#conns.size;
    };
    if (socket.readyState === WebSocket.OPEN) start();
    else socket.addEventListener("open", start);
    socket.addEventListener("message", (ev) => this.#onMessage(conn, ev.data));
    socket.addEventListener("close", () => {
      this.#conns.delete(conn);
      this.#ackConns.delete(conn);
      this.stats.connections = this.#conns.size;
    });
    socket.addEventListener("error", () => {});
  }

  close(): void {
    clearInterval(this.#idleTimer);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const c of this.#conns) c.socket.close(1001, "engine shutting down");
    this.#conns.clear();
  }

  #send(conn: Conn, text: string): void {
    if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(text);
  }

  #refuse(conn: Conn, e: ParamError, id?: number, path?: string): void {
    this.#send(conn, JSON.stringify(errorMsg(e, id, path)));
  }

  #onMessage(conn: Conn, data: unknown): void {
    conn.lastIn = Date.now();
    const t = messageText(data);
    if (!t.ok) {
      this.stats.badMessages++;
      this.#refuse(conn, t.error);
      if (t.error.code === "too_large") conn.socket.close(1009, "message too large");
      return;
    }
    const p = parseClientMessage(t.text);
    if (!p.ok) {
      this.stats.badMessages++;
      this.#refuse(conn, p.error, p.id);
      return;
    }
    const m = p.msg;
    switch (m.type) {
      case "set":
        this.#onSet(conn, m);
        return;
      case "sync":
        this.#send(conn, JSON.stringify(this.snapshot()));
        return;
      case "ping":
        this.#send(conn, `{"v":1,"type":"pong","t":${m.t}}`);
        return;
      case "pong":
        return;
    }
  }

  #onSet(conn: Conn, m: SetMsg): void {
    this.stats.setsReceived++;
    const e = this.#entries.get(m.path);
    const bad: ParamError | null = e ? validateValue(e.meta, m.value) : {
      code: "unknown_channel",
      message: `no channel named ${JSON.stringify(m.path)}`,
    };
    if (bad) {
      this.stats.setsRefused++;
      this.#refuse(conn, bad, m.id, m.path);
      return;
    }
    this.stats.setsApplied++;
    this.#apply(e!, e!.meta.type === "trigger" ? (e!.value as number) + 1 : m.value);
    conn.acks.push(m.id, this.#rev);
    this.#ackConns.add(conn);
    this.#schedule(true);
  }

  #apply(e: Entry, value: ParamValue): void {
    const v = normalizeValue(e.meta, value);
    e.value = v;
    this.#rev++;
    this.#pending.push(e.meta.path, v);
    for (const fn of this.#listeners) fn(e.meta.path, v);
  }

  #schedule(urgent: boolean): void {
    if (urgent) {
      if (!this.#microtask) {
        this.#microtask = true;
        queueMicrotask(() => this.#flush());
      }
    } else if (this.#timer === undefined && !this.#microtask) {
      this.#timer = setTimeout(() => this.#flush(), this.#batchMs);
    }
  }

  /** Sends pending changes as one delta to every client, then each client's acks. */
  #flush(): void {
    this.#microtask = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.stats.rev = this.#rev;
    if (this.#pending.length > 0) {
      const text = `{"v":1,"type":"delta","rev":${this.#rev},"changes":${
        JSON.stringify(this.#pending)
      }}`;
      this.#pending.length = 0;
      this.stats.deltasSent++;
      for (const c of this.#conns) this.#send(c, text);
    }
    for (const c of this.#ackConns) {
      const a = c.acks;
      for (let i = 0; i < a.length; i += 2) {
        this.#send(c, `{"v":1,"type":"ack","id":${a[i]},"rev":${a[i + 1]}}`);
      }
      a.length = 0;
    }
    this.#ackConns.clear();
  }
}

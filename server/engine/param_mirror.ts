/**
 * ParamMirror: smx's copy of the engine's parameter hub, and the single place the rest of smx
 * reads parameters from. Fed by EngineLink (snapshot + ordered deltas; a gap asks for a fresh
 * snapshot; an engine restart brings a new snapshot with a new instance id). Writes are validated
 * against the spec here, then forwarded; they settle on the engine's ack, which follows the
 * engine's echo of the change, so listeners have already seen the new value.
 *
 * Writes while the engine is offline are refused at once (`engine_offline`), never queued: a
 * queued slider move replayed seconds later into a restarted engine would surprise the performer.
 * Writes in flight when the link drops are rejected the same way; the next snapshot shows whether
 * they applied.
 */
import type { EngineDescriptor } from "../../protocol/engine_descriptor.ts";
import {
  type ChannelMeta,
  type DeltaMsg,
  type LinkMsg,
  type LinkState,
  type ParamValue,
  type SnapshotMsg,
  validateValue,
} from "../../protocol/params.ts";
import { ParamStore } from "../../protocol/param_store.ts";
import { type ParamClient, ParamWriteError } from "../../protocol/params_client.ts";
import {
  EngineLink,
  type EngineTarget,
  type LinkOptions,
  type TargetResolver,
} from "./engine_link.ts";

export { ParamWriteError };
export type { EngineTarget, TargetResolver };

export type MirrorEvent =
  /** The whole state was replaced (first connect, resync after a gap, engine restart). */
  | { type: "snapshot"; snapshot: SnapshotMsg }
  /** Changes applied in order; `raw` is the engine's message text, relayable as is. */
  | { type: "delta"; msg: DeltaMsg; raw: string }
  | { type: "link"; link: LinkMsg };

export interface MirrorOptions extends LinkOptions {
  /** Where the engine is: a fixed target, or a resolver run before every (re)connect. */
  engine: EngineTarget | TargetResolver;
  log?: (level: "info" | "warn", msg: string) => void;
}

export interface WriteResult {
  /** Hub revision at which the write applied. */
  rev: number;
}

export class ParamMirror {
  #store = new ParamStore();
  #client: ParamClient | null = null;
  #link: LinkMsg = { v: 1, type: "link", state: "offline", engine: null, message: "not started" };
  #descriptor: EngineDescriptor | null = null;
  #listeners = new Set<(e: MirrorEvent) => void>();
  #engineLink: EngineLink;
  #log: (level: "info" | "warn", msg: string) => void;

  constructor(opts: MirrorOptions) {
    this.#log = opts.log ?? (() => {});
    const e = opts.engine;
    const resolve: TargetResolver = typeof e === "function" ? e : () => Promise.resolve(e);
    this.#engineLink = new EngineLink(resolve, {
      connecting: (t) => this.#setLink("connecting", null, `connecting to ${t.url}`),
      connected: (c, t, d) => this.#onConnected(c, t, d),
      offline: (m) => this.#onOffline(m),
    }, opts);
  }

  start(): this {
    this.#engineLink.start();
    return this;
  }

  async stop(): Promise<void> {
    await this.#engineLink.stop();
  }

  /** Link to another engine (chosen in the UI or by flag); the state is replaced on connect. */
  retarget(engine: EngineTarget | TargetResolver): void {
    this.#engineLink.retarget(
      typeof engine === "function" ? engine : () => Promise.resolve(engine),
    );
  }

  get state(): LinkState {
    return this.#link.state;
  }

  /** Link state as sent to browsers. */
  get link(): LinkMsg {
    return this.#link;
  }

  /** The linked engine's full /hello descriptor (frame senders etc.), null when offline. */
  get descriptor(): EngineDescriptor | null {
    return this.#descriptor;
  }

  get rev(): number {
    return this.#store.rev;
  }

  /** Last known state (kept while offline), or null before the first snapshot. */
  snapshot(): SnapshotMsg | null {
    return this.#store.hasSnapshot ? this.#store.snapshot() : null;
  }

  get(path: string): ParamValue | undefined {
    return this.#store.get(path);
  }

  meta(path: string): ChannelMeta | undefined {
    return this.#store.meta(path);
  }

  channels(): readonly ChannelMeta[] {
    return this.#store.metas;
  }

  /** Listeners are called synchronously, in order; one that throws does not stop the others. */
  subscribe(fn: (e: MirrorEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolves once connected (immediately if already), rejects after `timeoutMs`. */
  whenConnected(timeoutMs = 10000): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error(`engine not connected after ${timeoutMs} ms: ${this.#link.message}`));
      }, timeoutMs);
      const off = this.subscribe((e) => {
        if (e.type === "link" && e.link.state === "connected") {
          clearTimeout(t);
          off();
          resolve();
        }
      });
    });
  }

  /**
   * Validates against the spec and forwards to the engine. Resolves when the engine acknowledged
   * (its echo is already in the mirror); rejects with a ParamWriteError whose `code` says why.
   */
  write(path: string, value: unknown): Promise<WriteResult> {
    const meta = this.#store.meta(path);
    if (!meta) {
      const code = this.#store.hasSnapshot ? "unknown_channel" : "engine_offline";
      const msg = this.#store.hasSnapshot
        ? `no channel named ${JSON.stringify(path)}`
        : "no engine has been connected yet";
      return Promise.reject(new ParamWriteError(code, msg, path));
    }
    const bad = validateValue(meta, value);
    if (bad) return Promise.reject(new ParamWriteError(bad.code, bad.message, path));
    const c = this.#client;
    if (!c || this.state !== "connected") {
      return Promise.reject(
        new ParamWriteError(
          "engine_offline",
          `engine offline (${this.#link.message}); write refused`,
          path,
        ),
      );
    }
    return c.set(path, value as ParamValue).then((a) => ({ rev: a.rev }));
  }

  #emit(e: MirrorEvent): void {
    for (const fn of this.#listeners) {
      try {
        fn(e);
      } catch (err) {
        this.#log("warn", `mirror listener failed: ${(err as Error).message}`);
      }
    }
  }

  #setLink(state: LinkState, engine: LinkMsg["engine"], message: string): void {
    this.#link = { v: 1, type: "link", state, engine, message };
    this.#emit({ type: "link", link: this.#link });
  }

  #onConnected(client: ParamClient, target: EngineTarget, d: EngineDescriptor): void {
    this.#client = client;
    this.#descriptor = d;
    this.#store = client.store;
    const engine = { name: d.name, instanceId: d.instanceId, url: target.url };
    this.#log("info", `engine link up: ${d.name} at ${target.url} (rev ${this.#store.rev})`);
    client.subscribe((e) => {
      if (e.type === "delta") this.#emit({ type: "delta", msg: e.msg, raw: e.raw });
      else if (e.type === "snapshot") this.#emit({ type: "snapshot", snapshot: e.msg });
      else if (e.type === "error") this.#log("warn", `engine: ${e.msg.code}: ${e.msg.message}`);
    });
    // Snapshot before "connected": a listener reacting to the link event sees the new state.
    this.#emit({ type: "snapshot", snapshot: this.#store.snapshot() });
    this.#setLink("connected", engine, `linked to ${d.name}`);
  }

  #onOffline(message: string): void {
    this.#client = null;
    this.#descriptor = null;
    if (this.#link.state !== "offline" || this.#link.message !== message) {
      this.#log("warn", message);
      this.#setLink("offline", null, message);
    }
  }
}

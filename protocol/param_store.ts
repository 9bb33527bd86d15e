/**
 * A replica of a parameter hub: metadata + values + rev, fed by snapshot and delta messages.
 * Runtime-neutral; used by smx's engine mirror and by any client (the browser UI, tests).
 *
 * Hot path: `applyDelta` mutates one entry object per change and allocates nothing itself.
 */
import {
  type ChannelMeta,
  type DeltaMsg,
  PARAMS_WIRE_VERSION,
  type ParamValue,
  type SnapshotMsg,
} from "./params.ts";

export interface ParamEntry {
  readonly meta: ChannelMeta;
  value: ParamValue;
}

export class ParamStore {
  readonly entries = new Map<string, ParamEntry>();
  /** Channels in spec order (the UI renders rows in this order). */
  metas: ChannelMeta[] = [];
  rev = -1;
  instanceId = "";
  engine = "";
  #snapshot: SnapshotMsg | undefined;

  get hasSnapshot(): boolean {
    return this.rev >= 0;
  }

  /** Replaces everything with a snapshot (first connect, resync, engine restart). */
  applySnapshot(msg: SnapshotMsg): void {
    this.entries.clear();
    this.metas = msg.channels;
    for (const meta of msg.channels) {
      const v = Object.hasOwn(msg.values, meta.path) ? msg.values[meta.path] : meta.default;
      this.entries.set(meta.path, { meta, value: v });
    }
    this.rev = msg.rev;
    this.instanceId = msg.instanceId;
    this.engine = msg.engine;
    this.#snapshot = undefined;
  }

  /**
   * Applies a delta in order. Returns false (and applies nothing) when it does not follow this
   * store's rev — a gap or a duplicate — so the caller asks for a snapshot.
   */
  applyDelta(msg: DeltaMsg): boolean {
    const c = msg.changes;
    if (!this.hasSnapshot || msg.rev !== this.rev + (c.length >> 1)) return false;
    for (let i = 0; i + 1 < c.length; i += 2) {
      const e = this.entries.get(c[i] as string);
      if (e !== undefined) e.value = c[i + 1] as ParamValue;
    }
    this.rev = msg.rev;
    this.#snapshot = undefined;
    return true;
  }

  get(path: string): ParamValue | undefined {
    return this.entries.get(path)?.value;
  }

  meta(path: string): ChannelMeta | undefined {
    return this.entries.get(path)?.meta;
  }

  /** Current values keyed by path (a new object). */
  values(): Record<string, ParamValue> {
    const out: Record<string, ParamValue> = {};
    for (const [p, e] of this.entries) out[p] = Array.isArray(e.value) ? e.value.slice() : e.value;
    return out;
  }

  /** A snapshot message of the current state, cached until the next change. */
  snapshot(): SnapshotMsg {
    this.#snapshot ??= {
      v: PARAMS_WIRE_VERSION,
      type: "snapshot",
      rev: this.rev,
      instanceId: this.instanceId,
      engine: this.engine,
      channels: this.metas,
      values: this.values(),
    };
    return this.#snapshot;
  }
}

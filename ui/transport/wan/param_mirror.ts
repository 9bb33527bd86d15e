/**
 * The WAN page's parameter mirror, pure logic (no Centrifugo, no signals): a ParamStore fed by
 * two channels that Centrifugo does not order against each other:
 *  - smx_state: StateMsg, the whole state (snapshot + link + sources), republished by smx at
 *    most every STATE_COALESCE_MS while parameters change; a late joiner gets the last one on
 *    subscribe (history 1 + cache recovery);
 *  - smx_params: deltas and link changes as they happen, and acks/errors addressed `to` a writer.
 *
 * A delta is applied only when its rev continues the store's. A delta that does not (it arrived
 * before the StateMsg it follows, or one was missed) is held; the next StateMsg brings the store
 * up to its rev and held deltas that continue it are applied on top. A StateMsg older than the
 * store (same engine instance, lower rev: deltas already moved past it) changes nothing but the
 * link and the sources. If held deltas still cannot apply after GAP_SYNC_MS, the owner publishes
 * `sync` (smx then republishes smx_state).
 */
import type { DeltaMsg, LinkMsg, ParamValue, SnapshotMsg } from "../../../protocol/params.ts";
import { ParamStore } from "../../../protocol/param_store.ts";
import type { ParamsChannelMsg, StateMsg, WanSourceInfo } from "../../../protocol/wan.ts";

/** How long held deltas may wait for a StateMsg before the page asks with `sync`. */
export const GAP_SYNC_MS = 1000;
/** Held deltas kept at most (a burst while waiting); older ones are dropped (the state covers them). */
export const MAX_HELD_DELTAS = 512;

export type MirrorEvent =
  | { type: "snapshot"; msg: SnapshotMsg }
  | { type: "changes"; changes: (string | ParamValue)[] }
  | { type: "link"; msg: LinkMsg }
  | { type: "sources"; sources: WanSourceInfo[] }
  | { type: "ack"; id: number }
  | { type: "error"; id: number; code: string; message: string; path?: string };

export class ParamMirror {
  readonly store = new ParamStore();
  #held: DeltaMsg[] = [];
  /** When the oldest held delta was first held (null: none held). */
  #heldSince: number | null = null;
  #link: LinkMsg | null = null;
  #sourcesJson = "";
  stats = { states: 0, staleStates: 0, deltas: 0, held: 0, duplicates: 0 };

  /** `me`: this page's Centrifugo client id (acks and errors addressed to others are ignored). */
  constructor(private emit: (e: MirrorEvent) => void, public me: string | null = null) {}

  get link(): LinkMsg | null {
    return this.#link;
  }

  /** Deltas waiting for a StateMsg. */
  get heldCount(): number {
    return this.#held.length;
  }

  /** Whether held deltas have waited long enough that the page should publish `sync`. */
  needsSync(now: number): boolean {
    return this.#heldSince !== null && now - this.#heldSince >= GAP_SYNC_MS;
  }

  /** Restart the wait after a `sync` went out. */
  syncSent(now: number): void {
    if (this.#heldSince !== null) this.#heldSince = now;
  }

  /** A publication of smx_state. Returns false when it is not a StateMsg. */
  onState(data: unknown, now = Date.now()): boolean {
    const m = data as StateMsg;
    if (!m || typeof m !== "object" || m.type !== "state") return false;
    this.stats.states++;
    if (m.link && m.link.type === "link") this.#setLink(m.link);
    if (Array.isArray(m.sources)) {
      const j = JSON.stringify(m.sources);
      if (j !== this.#sourcesJson) {
        this.#sourcesJson = j;
        this.emit({ type: "sources", sources: m.sources });
      }
    }
    const snap = m.snapshot;
    if (!snap || snap.type !== "snapshot") return true;
    const s = this.store;
    const sameInstance = s.hasSnapshot && s.instanceId === snap.instanceId;
    if (sameInstance && snap.rev <= s.rev) {
      // Deltas already took the store at or past this state.
      this.stats.staleStates++;
      this.#applyHeld(now);
      return true;
    }
    s.applySnapshot(snap);
    this.emit({ type: "snapshot", msg: snap });
    this.#applyHeld(now);
    return true;
  }

  /** A publication of smx_params. */
  onParams(data: unknown, now = Date.now()): void {
    const m = data as ParamsChannelMsg;
    if (!m || typeof m !== "object") return;
    switch (m.type) {
      case "delta":
        this.#onDelta(m, now);
        return;
      case "link":
        this.#setLink(m);
        return;
      case "ack":
        if (m.to !== undefined && m.to === this.me) this.emit({ type: "ack", id: m.id });
        return;
      case "error":
        if (m.to !== undefined && m.to === this.me && typeof m.id === "number") {
          this.emit({
            type: "error",
            id: m.id,
            code: m.code,
            message: m.message,
            ...(m.path ? { path: m.path } : {}),
          });
        }
        return;
    }
  }

  /** Forget everything held (a new connection: the next StateMsg starts over). */
  resetHeld(): void {
    this.#held = [];
    this.#heldSince = null;
  }

  #setLink(l: LinkMsg): void {
    const p = this.#link;
    if (
      p && p.state === l.state && p.message === l.message &&
      p.engine?.name === l.engine?.name && p.engine?.instanceId === l.engine?.instanceId
    ) return;
    this.#link = l;
    this.emit({ type: "link", msg: l });
  }

  #onDelta(d: DeltaMsg, now: number): void {
    if (!Array.isArray(d.changes) || typeof d.rev !== "number") return;
    const s = this.store;
    if (s.hasSnapshot && d.rev <= s.rev) {
      this.stats.duplicates++; // already in the state (or replayed)
      return;
    }
    if (this.#held.length === 0 && s.applyDelta(d)) {
      this.stats.deltas++;
      this.emit({ type: "changes", changes: d.changes });
      return;
    }
    // Does not continue the store: hold it for the next StateMsg.
    this.stats.held++;
    this.#held.push(d);
    if (this.#held.length > MAX_HELD_DELTAS) this.#held.shift();
    this.#heldSince ??= now;
    this.#applyHeld(now);
  }

  /** Applies held deltas that now continue the store; drops those already covered. */
  #applyHeld(now: number): void {
    if (this.#held.length === 0) return;
    const s = this.store;
    this.#held.sort((a, b) => a.rev - b.rev);
    let any = false;
    let progressed = true;
    while (progressed && this.#held.length > 0) {
      progressed = false;
      const d = this.#held[0];
      if (s.hasSnapshot && d.rev <= s.rev) {
        this.#held.shift();
        progressed = any = true;
      } else if (s.applyDelta(d)) {
        this.#held.shift();
        this.stats.deltas++;
        this.emit({ type: "changes", changes: d.changes });
        progressed = any = true;
      }
    }
    this.#heldSince = this.#held.length === 0 ? null : (any ? now : this.#heldSince);
  }
}

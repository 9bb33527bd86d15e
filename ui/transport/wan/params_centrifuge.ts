/**
 * ParamSource over Centrifugo (the WAN reach): one centrifuge client per page, with the
 * connection token from the join and `getToken` → POST /api/wan/token/connection; three
 * subscriptions, each `getToken` → POST /api/wan/token/subscription:
 *  - smx_state:<engine>  StateMsg (snapshot + link + sources); the last one arrives on subscribe
 *                        (history 1 + force_recovery in cache mode); if none came within
 *                        STATE_WAIT_MS the page reads history (limit 1) and else publishes `sync`;
 *  - smx_params:<engine> deltas, link changes, acks/errors addressed `to` our client id;
 *  - smx_ctl:<engine>    what the page publishes: `set`, `sync`, and (for the VideoSource)
 *                        `demand` and `keyframe`; subscribed with a tags filter that lets no
 *                        other page's publication through (tagsFilter).
 * The mirror logic (rev-checked deltas, held until a StateMsg catches up) is param_mirror.ts; the
 * write rules (coalescing, acks by id, timeout) are writes.ts.
 *
 * A signed-out answer to a token request (401 or a redirect) calls `onSignedOut` and throws
 * centrifuge's UnauthorizedError, which stops its retries (the page shows the sign-in prompt).
 */
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { Centrifuge, type FilterNode, type Subscription, UnauthorizedError } from "centrifuge";
import type { ChannelMeta, ParamValue } from "../../../protocol/params.ts";
import { validateValue } from "../../../protocol/params.ts";
import { ParamWriteError } from "../../../protocol/params_client.ts";
import {
  type ChannelKind,
  type CtlMsg,
  type JoinTokens,
  type WanSourceInfo,
} from "../../../protocol/wan.ts";
import type { ConnectionState, EngineStatus, ParamSource, SourceInfo } from "../types.ts";
import { type MirrorEvent, ParamMirror } from "./param_mirror.ts";
import { SignedOutError, type SiteApi } from "./site_api.ts";
import { mark } from "./marks.ts";
import { CoalescedWrites, PendingAcks } from "./writes.ts";

/** Without a StateMsg this long after subscribing, read history, then ask with `sync`. */
export const STATE_WAIT_MS = 1500;

/** What the VideoSource needs from the page's Centrifugo link. */
export interface CtlLink {
  /** The pictures on offer (from StateMsg). */
  readonly sources: ReadonlySignal<readonly SourceInfo[]>;
  /** Whether smx_ctl is subscribed (publishes can go out). */
  readonly ctlReady: ReadonlySignal<boolean>;
  /** Publishes on smx_ctl; false when it cannot go out now. */
  publishCtl(m: CtlMsg): boolean;
}

export interface CentrifugeParamOptions {
  api: SiteApi;
  join: JoinTokens;
  /** The engine's online state from the engine list (before any StateMsg says better). */
  online?: boolean;
  /** The signed-in user's id (the connection token's `sub`): filters smx_params' answers. */
  user?: string;
  /** The site says there is no session any more (a token refresh got 401 or a redirect). */
  onSignedOut?(login: string): void;
  /** Tests: a Centrifuge-compatible constructor. */
  CentrifugeImpl?: typeof Centrifuge;
}

/**
 * Server-side filters (namespaces with allow_tags_filter, server/wan/relay/centrifugo_config.ts),
 * so N pages do not cost N² messages: on smx_ctl a page wants nothing back (client publications
 * carry no tags, so `smx` never exists); on smx_params everything but the answers smx tags
 * `{to, user}` for other users' writes (a user's other tabs still arrive; `to` sorts them out).
 */
export function tagsFilter(kind: ChannelKind, user?: string): FilterNode | null {
  if (kind === "ctl") return { key: "smx", cmp: "ex" };
  if (kind === "params" && user) {
    return {
      op: "or",
      nodes: [{ key: "to", cmp: "nex" }, { key: "user", cmp: "eq", val: user }],
    };
  }
  return null;
}

function toSource(s: WanSourceInfo): SourceInfo | null {
  if (!s || typeof s.id !== "string") return null;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    id: s.id,
    label: typeof s.label === "string" && s.label ? s.label : s.id,
    width: num(s.width),
    height: num(s.height),
    fps: num(s.fps) || 60,
    ...(s.pointer ? { pointer: s.pointer } : {}),
  };
}

export class CentrifugeParamSource implements ParamSource, CtlLink {
  readonly #state = signal<ConnectionState>("connecting");
  readonly #engine: Signal<EngineStatus>;
  #online: boolean | undefined;
  readonly #channels = signal<readonly ChannelMeta[]>([]);
  readonly #sources = signal<readonly SourceInfo[]>([]);
  readonly #values = new Map<string, Signal<ParamValue | undefined>>();
  readonly #subscribed = signal<Record<ChannelKind, boolean>>({
    state: false,
    params: false,
    ctl: false,
  });
  readonly #connected = signal(false);
  readonly ctlReady = computed(() => this.#connected.value && this.#subscribed.value.ctl);
  readonly #mirror: ParamMirror;
  readonly #acks = new PendingAcks();
  readonly #writes: CoalescedWrites;
  readonly #client: Centrifuge;
  readonly #subs: Record<ChannelKind, Subscription>;
  #everOpen = false;
  #stateTimer: ReturnType<typeof setTimeout> | undefined;
  #tick: ReturnType<typeof setInterval>;
  #closed = false;
  /** Diagnostics (window.__smx.params.stats). */
  stats = { snapshots: 0, deltas: 0, sets: 0, acks: 0, errors: 0, reconnects: 0, syncs: 0 };

  constructor(private opts: CentrifugeParamOptions) {
    const { api, join } = opts;
    const engine = join.engine;
    this.#online = opts.online;
    this.#mirror = new ParamMirror((e) => this.#onMirror(e));
    this.#engine = signal<EngineStatus>(this.#engineNow());
    this.#writes = new CoalescedWrites((path, value) => this.#sendSet(path, value));
    const C = opts.CentrifugeImpl ?? Centrifuge;
    const unauthorized = (e: unknown): never => {
      if (e instanceof SignedOutError) {
        opts.onSignedOut?.(e.login);
        throw new UnauthorizedError(e.message);
      }
      throw e;
    };
    this.#client = new C(join.centrifugo.url, {
      token: join.centrifugo.token,
      getToken: () => api.connectionToken(engine).catch(unauthorized),
      name: "smx-ui",
    });
    this.#client.on("connected", (ctx) => {
      mark("centrifugo-connected");
      this.#mirror.me = ctx.client;
      this.#connected.value = true;
      this.#updateState();
    });
    this.#client.on("connecting", () => this.#down("connecting"));
    this.#client.on("disconnected", (ctx) => this.#down(`disconnected: ${ctx.reason}`));
    // The three subscription tokens are asked for now, while the WebSocket connects (centrifuge
    // asks only once connected); each first getToken takes its answer.
    const early = new Map<ChannelKind, Promise<string>>();
    for (const kind of ["state", "params", "ctl"] as const) {
      const p = api.subscriptionToken(engine, join.centrifugo.channels[kind]);
      p.catch(() => {}); // settled through getToken
      early.set(kind, p);
    }
    const make = (kind: ChannelKind): Subscription => {
      const channel = join.centrifugo.channels[kind];
      const sub = this.#client.newSubscription(channel, {
        getToken: () => {
          const p = early.get(kind) ?? api.subscriptionToken(engine, channel);
          early.delete(kind);
          return p.catch(unauthorized);
        },
        ...(tagsFilter(kind, opts.user) ? { tagsFilter: tagsFilter(kind, opts.user) } : {}),
      });
      sub.on("subscribed", () => {
        this.#subscribed.value = { ...this.#subscribed.peek(), [kind]: true };
        if (kind === "state") this.#expectState(sub);
        this.#updateState();
      });
      sub.on("subscribing", () => {
        if (this.#subscribed.peek()[kind]) {
          this.#subscribed.value = { ...this.#subscribed.peek(), [kind]: false };
          this.#updateState();
        }
      });
      sub.on("unsubscribed", () => {
        this.#subscribed.value = { ...this.#subscribed.peek(), [kind]: false };
        this.#updateState();
      });
      sub.on("error", (ctx) => console.warn(`smx wan: ${channel}:`, ctx.error?.message));
      sub.on("publication", (ctx) => {
        if (kind === "state") {
          clearTimeout(this.#stateTimer);
          if (this.#mirror.stats.states === 0) mark("first-state");
          this.#mirror.onState(ctx.data);
        } else if (kind === "params") this.#mirror.onParams(ctx.data);
        // smx_ctl: other pages' demands and writes; nothing for us.
      });
      return sub;
    };
    this.#subs = { state: make("state"), params: make("params"), ctl: make("ctl") };
    for (const s of Object.values(this.#subs)) s.subscribe();
    mark("centrifugo-start");
    this.#client.connect();
    this.#tick = setInterval(() => {
      this.#acks.expire();
      const now = Date.now();
      if (this.#mirror.needsSync(now) && this.publishCtl({ v: 1, type: "sync" })) {
        this.stats.syncs++;
        this.#mirror.syncSent(now);
      }
    }, 250);
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
  get sources(): ReadonlySignal<readonly SourceInfo[]> {
    return this.#sources;
  }
  get rev(): number {
    return this.#mirror.store.rev;
  }
  get pendingWrites(): number {
    return this.#acks.size;
  }
  /** This page's Centrifugo client id (null before the first connect). */
  get clientId(): string | null {
    return this.#mirror.me;
  }

  value(path: string): ReadonlySignal<ParamValue | undefined> {
    let s = this.#values.get(path);
    if (!s) {
      s = signal<ParamValue | undefined>(this.#mirror.store.get(path));
      this.#values.set(path, s);
    }
    return s;
  }

  write(path: string, value: ParamValue): Promise<void> {
    if (this.#state.peek() !== "open") {
      return Promise.reject(new ParamWriteError("engine_offline", "not connected", path));
    }
    return this.#writes.write(path, value);
  }

  publishCtl(m: CtlMsg): boolean {
    if (this.#closed || !this.ctlReady.peek()) return false;
    this.#subs.ctl.publish(m).catch((e: Error) => {
      console.warn(`smx wan: publish ${m.type} failed:`, e?.message ?? e);
    });
    return true;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#tick);
    clearTimeout(this.#stateTimer);
    this.#acks.failAll("page closed");
    this.#client.disconnect();
  }

  #sendSet(path: string, value: ParamValue): Promise<void> {
    const meta = this.#mirror.store.meta(path);
    if (!meta) {
      return Promise.reject(
        new ParamWriteError("unknown_channel", `no channel named ${JSON.stringify(path)}`, path),
      );
    }
    const bad = validateValue(meta, value);
    if (bad) return Promise.reject(new ParamWriteError(bad.code, bad.message, path));
    if (!this.ctlReady.peek()) {
      return Promise.reject(new ParamWriteError("engine_offline", "not connected", path));
    }
    const { id, done } = this.#acks.open(path);
    this.stats.sets++;
    this.#subs.ctl.publish({ v: 1, type: "set", id, path, value }).catch((e: Error) => {
      this.#acks.fail(
        id,
        new ParamWriteError("engine_offline", `publish refused: ${e?.message ?? e}`, path),
      );
    });
    return done.then(() => {
      this.stats.acks++;
    }, (e) => {
      this.stats.errors++;
      throw e;
    });
  }

  #onMirror(e: MirrorEvent): void {
    switch (e.type) {
      case "snapshot": {
        this.stats.snapshots++;
        const store = this.#mirror.store;
        batch(() => {
          for (const [path, s] of this.#values) s.value = store.get(path);
          for (const path of store.entries.keys()) this.value(path);
          if (JSON.stringify(this.#channels.peek()) !== JSON.stringify(store.metas)) {
            this.#channels.value = store.metas;
          }
        });
        this.#setEngine(this.#engineNow());
        return;
      }
      case "changes": {
        this.stats.deltas++;
        const ch = e.changes;
        batch(() => {
          for (let i = 0; i + 1 < ch.length; i += 2) {
            (this.value(ch[i] as string) as Signal<ParamValue | undefined>).value =
              ch[i + 1] as ParamValue;
          }
        });
        return;
      }
      case "link":
        this.#setEngine(this.#engineNow());
        return;
      case "sources":
        this.#sources.value = e.sources.map(toSource).filter((s): s is SourceInfo => !!s);
        return;
      case "ack":
        this.#acks.ack(e.id);
        return;
      case "error":
        this.#acks.error(e.id, e.code, e.message, e.path);
        return;
    }
  }

  /**
   * The site's word on whether smx is connected to it (the engine list's `online`, refreshed by
   * the page): while it says no, the engine shows offline whatever a StateMsg kept by Centrifugo
   * from before says.
   */
  setOnline(online: boolean): void {
    if (this.#online === online) return;
    this.#online = online;
    this.#setEngine(this.#engineNow());
  }

  #engineNow(): EngineStatus {
    const link = this.#mirror.link;
    const name = link?.engine?.name ?? (this.#mirror.store.engine || null);
    if (this.#online === false) {
      return {
        state: "offline",
        name,
        message: "smx for this engine is not connected to the site",
      };
    }
    if (link) {
      return { state: link.state, name, ...(link.message ? { message: link.message } : {}) };
    }
    if (this.#mirror.store.hasSnapshot) return { state: "connected", name };
    return { state: "connecting", name: null };
  }

  #setEngine(s: EngineStatus): void {
    const p = this.#engine.peek();
    if (p.state === s.state && p.name === s.name && p.message === s.message) return;
    this.#engine.value = s;
  }

  #down(reason: string): void {
    if (this.#connected.peek()) {
      this.#connected.value = false;
      this.stats.reconnects++;
    }
    this.#acks.failAll(reason);
    this.#mirror.resetHeld();
    this.#updateState();
  }

  #updateState(): void {
    const subs = this.#subscribed.peek();
    const open = this.#connected.peek() && subs.state && subs.params && subs.ctl;
    if (open) this.#everOpen = true;
    const next: ConnectionState = open ? "open" : this.#everOpen ? "reconnecting" : "connecting";
    if (this.#state.peek() !== next) this.#state.value = next;
  }

  /** No StateMsg with the subscribe (a namespace without cache recovery)? Read or ask for it. */
  #expectState(sub: Subscription): void {
    clearTimeout(this.#stateTimer);
    const before = this.#mirror.stats.states;
    this.#stateTimer = setTimeout(async () => {
      if (this.#closed || this.#mirror.stats.states !== before) return;
      try {
        const h = await sub.history({ limit: 1, reverse: true });
        for (const p of h.publications) this.#mirror.onState(p.data);
      } catch { /* history not allowed for subscribers here */ }
      if (this.#mirror.stats.states === before && this.publishCtl({ v: 1, type: "sync" })) {
        this.stats.syncs++;
      }
    }, STATE_WAIT_MS);
  }
}

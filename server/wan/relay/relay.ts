/**
 * WanRelay: smx's parameters and the remote pages' demand, through Centrifugo, dialing out only.
 *
 *   mirror ──delta/link──▶ PublishQueue ──server API batch──▶ smx_params:<engine>
 *          ──state──────▶ StateScheduler ─▶ PublishQueue ───▶ smx_state:<engine> (history 1)
 *   smx_ctl:<engine> ──CtlConnection──▶ per-client FloodGuard ─▶ parseCtlMessage ─▶
 *          set → applyRemoteSet (mirror) → ack/error `to` the writer on smx_params
 *          sync → StateScheduler.sync   demand → DemandAggregator → onWanted
 *          keyframe → onKeyframe
 *
 * Remote writes get exactly the local rules: params.ts's parser (inside parseCtlMessage), the
 * FloodGuard with the local defaults, smx-channel refusal and ParamMirror's spec validation.
 * Everything a page sends is answered or dropped here; nothing a page sends can throw out.
 */
import type { PublicationContext } from "centrifuge";
import {
  channelOf,
  engineUser,
  MAX_CTL_BYTES,
  type ParamsChannelMsg,
  parseCtlMessage,
  type PublishedRendition,
  type WanSourceInfo,
} from "../../../protocol/wan.ts";
import { errorMsg, type ParamError } from "../../../protocol/params.ts";
import { type ModerationMsg, parseModeration } from "../../../protocol/audience.ts";
import { type OnAirMsg, parseOnAirMessage, type VenueInfo } from "../../../protocol/venues.ts";
import type { Rendition } from "../../../protocol/size_classes.ts";
import { deltaForBrowsers } from "../../params/smx_channels.ts";
import { CentrifugoApi, disconnectCommand } from "./centrifugo_api.ts";
import { CtlConnection, type CtlStats } from "./ctl_connection.ts";
import { DemandAggregator, type DemandStats } from "./demand.ts";
import { PublishQueue, type PublishQueueStats } from "./publish_queue.ts";
import { RemoteClients, type RemoteLimits } from "./remote_clients.ts";
import { applyRemoteSet, type RelayMirror } from "./remote_write.ts";
import { buildState, StateScheduler } from "./state.ts";

export type { RelayMirror, RemoteLimits };

export interface WanRelayOptions {
  /** The engine id (ENGINE_ID_RE): names the channels and smx's Centrifugo user. */
  engine: string;
  centrifugo: {
    /** WebSocket endpoint, e.g. wss://rt.example.com/connection/websocket */
    url: string;
    /** Server API prefix, e.g. https://rt.example.com/api */
    apiUrl: string;
    apiKey: string;
    /** Centrifugo's client.token.hmac_secret_key: smx signs its own tokens with it. */
    tokenSecret: string;
  };
  mirror: RelayMirror;
  /** The pictures on offer (what GET /api/hello's `sources` lists). */
  sources(): WanSourceInfo[];
  /** A source's current size and rate, undefined when not on offer. */
  resolveSource(source: string): Rendition | undefined;
  log?: (level: "info" | "warn", msg: string) => void;
  /** The renditions remote pages want now (called when the set changes). */
  onWanted(list: PublishedRendition[]): void;
  /** A page needs an IDR on this publisher identity (coalesced per identity). */
  onKeyframe(identity: string): void;
  /**
   * Audience venues (server/wan/venues/): the list goes into every StateMsg as `venues`; an
   * `onair` from smx_ctl (operators only hold ctl tokens) is applied here, its refusal answered.
   */
  venues?: {
    list(): VenueInfo[];
    apply(m: OnAirMsg, by: string): { ok: true } | { ok: false; message: string };
  };
  /**
   * Audience moderation (server/wan/audience/): an `audience` message from smx_ctl (operators
   * only hold ctl tokens) is handed here; a malformed one is refused.
   */
  audience?: { moderate(m: ModerationMsg, by: string): void };
  /** Per-page rate limits (defaults: the local ones). */
  limits?: RemoteLimits;
  /** Renditions remote demand may ask for at once (default 8). */
  maxRenditions?: number;
  /** Forget a page's demand after this much silence (default DEMAND_EXPIRY_MS; tests shorten). */
  demandExpiryMs?: number;
  tokenTtlS?: number;
  /** Retry after Centrifugo refused smx for good, e.g. a wrong tokenSecret (default 30 s). */
  terminalRetryMs?: number;
  apiTimeoutMs?: number;
  /** Republish the state at least this often (default 60 s; keep history_ttl above it). */
  stateRefreshMs?: number;
  /**
   * While parameters change, republish the state at most this often (default STATE_COALESCE_MS,
   * the contract's). Every page receives every state: an engine whose meters never rest costs
   * each page state-size × 1000 / this, per second (see README).
   */
  stateCoalesceMs?: number;
  /** Bounds of what waits for Centrifugo (see publish_queue.ts). */
  maxPending?: number;
  maxPendingBytes?: number;
}

export interface WanRelayStats {
  engine: string;
  ctl: CtlStats;
  publish: PublishQueueStats;
  state: StateScheduler["counts"];
  demand: DemandStats;
  wanted: PublishedRendition[];
  remote: {
    received: number;
    refused: number;
    rateLimited: number;
    ignored: number;
    disconnects: number;
    sets: number;
    syncs: number;
    demands: number;
    keyframes: number;
    tracked: number;
    penalized: number;
  };
}

/** Close code for a flooder: 4000–4499 reconnect with backoff (a local 1008 page does too). */
export const FLOOD_DISCONNECT_CODE = 4429;
const TICK_MS = 1000;
const KEYFRAME_COALESCE_MS = 250;

/** The publication as an object when it is an `onair` (data may come as text or parsed). */
function onAirData(data: unknown): Record<string, unknown> | null {
  let d = data;
  if (typeof d === "string") {
    if (d.length > MAX_CTL_BYTES || !d.includes('"onair"')) return null;
    try {
      d = JSON.parse(d);
    } catch {
      return null;
    }
  }
  return d && typeof d === "object" && !Array.isArray(d) &&
      (d as Record<string, unknown>).type === "onair"
    ? d as Record<string, unknown>
    : null;
}

/** The publication as an object when it is an audience moderation message. */
function moderationData(data: unknown): Record<string, unknown> | null {
  let d = data;
  if (typeof d === "string") {
    if (d.length > MAX_CTL_BYTES || !d.includes('"audience"')) return null;
    try {
      d = JSON.parse(d);
    } catch {
      return null;
    }
  }
  return d && typeof d === "object" && !Array.isArray(d) &&
      (d as Record<string, unknown>).type === "audience"
    ? d as Record<string, unknown>
    : null;
}

export class WanRelay {
  readonly #o: WanRelayOptions;
  readonly #log: (level: "info" | "warn", msg: string) => void;
  readonly #api: CentrifugoApi;
  readonly #queue: PublishQueue;
  readonly #scheduler: StateScheduler;
  readonly #ctl: CtlConnection;
  readonly #demand: DemandAggregator;
  readonly #clients: RemoteClients;
  readonly #user: string;
  #unsubscribe = () => {};
  #tick: ReturnType<typeof setInterval> | undefined;
  #sourcesKey = "";
  #keyframeAt = new Map<string, number>();
  #started = false;
  #stopped = false;
  #r = {
    received: 0,
    refused: 0,
    rateLimited: 0,
    ignored: 0,
    disconnects: 0,
    sets: 0,
    syncs: 0,
    demands: 0,
    keyframes: 0,
  };

  constructor(o: WanRelayOptions) {
    this.#o = o;
    this.#log = o.log ?? (() => {});
    this.#user = engineUser(o.engine);
    this.#api = new CentrifugoApi({
      apiUrl: o.centrifugo.apiUrl,
      apiKey: o.centrifugo.apiKey,
      timeoutMs: o.apiTimeoutMs,
    });
    this.#queue = new PublishQueue({
      api: this.#api,
      stateChannel: channelOf("state", o.engine),
      paramsChannel: channelOf("params", o.engine),
      stateText: () => JSON.stringify(this.#state()),
      maxPending: o.maxPending,
      maxPendingBytes: o.maxPendingBytes,
      log: this.#log,
    });
    this.#scheduler = new StateScheduler({
      publish: () => this.#queue.state(),
      refreshMs: o.stateRefreshMs,
      coalesceMs: o.stateCoalesceMs,
    });
    this.#demand = new DemandAggregator({
      resolveSource: (s) => o.resolveSource(s),
      onWanted: (list) => this.#safe("onWanted", () => o.onWanted(list)),
      maxRenditions: o.maxRenditions,
      expiryMs: o.demandExpiryMs,
      log: this.#log,
    });
    this.#clients = new RemoteClients(o.limits);
    this.#ctl = new CtlConnection({
      engine: o.engine,
      url: o.centrifugo.url,
      tokenSecret: o.centrifugo.tokenSecret,
      tokenTtlS: o.tokenTtlS,
      terminalRetryMs: o.terminalRetryMs,
      onPublication: (ctx) => this.#safe("ctl message", () => this.#onCtl(ctx)),
      // Centrifugo (re)accepted us: after a restart its history is empty, so the state goes now.
      onSubscribed: () => this.#scheduler.now(),
      log: this.#log,
    });
  }

  /** The server API client (e.g. `presence` for the site's online list). */
  get api(): CentrifugoApi {
    return this.#api;
  }

  start(): this {
    if (this.#started) return this;
    this.#started = true;
    this.#unsubscribe = this.#o.mirror.subscribe((e) => {
      if (e.type === "delta") {
        this.#queue.params(deltaForBrowsers(e.raw));
        this.#scheduler.changed();
      } else if (e.type === "snapshot") {
        this.#scheduler.now();
      } else {
        this.#queue.params(JSON.stringify(buildState(this.#o.mirror, []).link));
        this.#scheduler.now();
      }
    });
    this.#sourcesKey = JSON.stringify(this.#o.sources());
    this.#scheduler.start();
    this.#scheduler.now(); // Centrifugo may hold an older smx's state: replace it
    this.#ctl.start();
    this.#tick = setInterval(() => this.#safe("tick", () => this.#onTick()), TICK_MS);
    return this;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#tick);
    this.#unsubscribe();
    this.#scheduler.stop();
    this.#ctl.stop();
    await this.#queue.idle(1000).catch(() => {}); // what is on its way, briefly
    this.#queue.stop();
    this.#api.close();
  }

  stats(): WanRelayStats {
    return {
      engine: this.#o.engine,
      ctl: this.#ctl.stats,
      publish: this.#queue.stats,
      state: { ...this.#scheduler.counts },
      demand: this.#demand.stats,
      wanted: this.#demand.wanted(),
      remote: { ...this.#r, ...this.#clients.stats },
    };
  }

  /** Something in the state besides parameters changed (venues): republish it now. */
  stateChanged(): void {
    if (this.#started && !this.#stopped) this.#scheduler.now();
  }

  /** Resolves once every state due and everything queued has reached Centrifugo (tests). */
  async flushed(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.#scheduler.pending) {
      if (Date.now() > end) throw new Error("a state is still due");
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.#queue.idle(Math.max(0, end - Date.now()));
  }

  #state() {
    const st = buildState(this.#o.mirror, this.#o.sources());
    return this.#o.venues ? { ...st, venues: this.#o.venues.list() } : st;
  }

  /** An answer to one page: tagged with its client and user (see centrifugo_config.ts). */
  #answer(m: ParamsChannelMsg & { to: string }, user: string): void {
    this.#queue.params(JSON.stringify(m), { to: m.to, user });
  }

  #refuse(to: string, user: string, e: ParamError, id?: number): void {
    this.#r.refused++;
    this.#answer({ ...errorMsg(e, id), to }, user);
  }

  #onCtl(ctx: PublicationContext): void {
    if (this.#stopped) return;
    const client = ctx.info?.client;
    const user = ctx.info?.user ?? "";
    // Only clients' publications carry info; smx's own user never publishes here.
    if (!client || user === this.#user) return;
    this.#r.received++;
    const verdict = this.#clients.check(client);
    if (verdict === "ignored") {
      this.#r.ignored++;
      return;
    }
    if (verdict !== "pass") {
      this.#r.rateLimited++;
      if (verdict === "close") return this.#disconnectFlooder(user, client);
      if (verdict === "reply") {
        const d = ctx.data as { type?: unknown; id?: unknown } | null;
        const id = d && d.type === "set" && typeof d.id === "number" ? d.id : undefined;
        this.#refuse(client, user, {
          code: "rate_limited",
          message: `over ${this.#clients.ratePerSecond} messages/s: messages are dropped, and ` +
            "this second's further refusals go unanswered; keep it up and the connection is closed",
        }, id);
      }
      return;
    }
    const d = onAirData(ctx.data);
    if (d) return this.#onAir(d, client, user);
    const mod = moderationData(ctx.data);
    if (mod) {
      if (!this.#o.audience) {
        return this.#refuse(client, user, { code: "unknown_type", message: "no audience here" });
      }
      const p = parseModeration(mod);
      if (!p.ok) return this.#refuse(client, user, { code: "bad_message", message: p.message });
      return this.#safe("audience", () => this.#o.audience!.moderate(p.msg, user));
    }
    const p = parseCtlMessage(ctx.data);
    if (!p.ok) return this.#refuse(client, user, p.error, p.id);
    const m = p.msg;
    switch (m.type) {
      case "set":
        this.#r.sets++;
        applyRemoteSet(this.#o.mirror, m, client).then((answer) => {
          if (answer.type === "error") this.#r.refused++;
          if (!this.#stopped) this.#answer({ ...answer, to: client }, user);
        });
        return;
      case "sync":
        this.#r.syncs++;
        return this.#scheduler.sync();
      case "demand":
        this.#r.demands++;
        return this.#demand.update(client, m.tiles);
      case "keyframe": {
        this.#r.keyframes++;
        const now = performance.now();
        if (now - (this.#keyframeAt.get(m.identity) ?? -Infinity) < KEYFRAME_COALESCE_MS) return;
        this.#keyframeAt.set(m.identity, now);
        return this.#safe("onKeyframe", () => this.#o.onKeyframe(m.identity));
      }
    }
  }

  #onAir(d: Record<string, unknown>, client: string, user: string): void {
    if (!this.#o.venues) {
      return this.#refuse(client, user, { code: "unknown_type", message: "no venues here" });
    }
    const p = parseOnAirMessage(d);
    if (!p.ok) return this.#refuse(client, user, { code: "bad_message", message: p.message });
    const r = this.#o.venues.apply(p.msg, user);
    if (!r.ok) return this.#refuse(client, user, { code: "bad_message", message: r.message });
    // The state (republished at once by the router's onChange) is the answer.
  }

  #disconnectFlooder(user: string, client: string): void {
    const reason = this.#clients.reason(client);
    this.#r.disconnects++;
    this.#demand.remove(client);
    this.#log("warn", `WAN client ${client} (user ${user}) disconnected for flooding (${reason})`);
    // Through the queue, after the `rate_limited` error already queued for it.
    this.#queue.command(
      disconnectCommand(user, client, FLOOD_DISCONNECT_CODE, reason.slice(0, 100)),
    );
  }

  #onTick(): void {
    this.#demand.tick();
    this.#clients.prune();
    const now = performance.now();
    for (const [id, at] of this.#keyframeAt) {
      if (now - at > KEYFRAME_COALESCE_MS) this.#keyframeAt.delete(id);
    }
    const key = JSON.stringify(this.#o.sources());
    if (key !== this.#sourcesKey) {
      this.#sourcesKey = key;
      this.#scheduler.now();
    }
  }

  #safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) { // a bug here, or in a callback, must not take the relay down
      this.#log("warn", `WAN relay: ${what} failed: ${(e as Error).message}`);
    }
  }
}

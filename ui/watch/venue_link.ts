/**
 * The watch page's only channel: smx_state (subscribe-only; a viewer holds no smx_ctl token). It
 * reads `StateMsg.venues` (protocol/venues.ts) and offers the on-air venues as video sources to
 * LiveKitVideoSource through the CtlLink seam: nothing is ever published (no demand: venues are
 * published for everyone; no keyframe requests: LiveKit's own PLI serves a viewer's decoder).
 */
import { Centrifuge, type Subscription, UnauthorizedError } from "centrifuge";
import { computed, type ReadonlySignal, signal } from "@preact/signals";
import type { CtlMsg, JoinTokens } from "../../protocol/wan.ts";
import type { VenueInfo } from "../../protocol/venues.ts";
import type { SourceInfo } from "../transport/types.ts";
import type { CtlLink } from "../transport/wan/params_centrifuge.ts";
import { SignedOutError, type SiteApi } from "../transport/wan/site_api.ts";

export interface VenueLinkOptions {
  api: SiteApi;
  join: JoinTokens;
  onSignedOut?(login: string): void;
}

function venueList(data: unknown): VenueInfo[] | null {
  const d = data as { type?: unknown; venues?: unknown } | null;
  if (!d || d.type !== "state") return null;
  if (!Array.isArray(d.venues)) return [];
  return d.venues.filter((v): v is VenueInfo =>
    !!v && typeof v.id === "string" && typeof v.source === "string" &&
    typeof v.title === "string" && typeof v.onAir === "boolean" && Array.isArray(v.renditions) &&
    v.renditions.length > 0
  );
}

/** A venue as a tile's source: its largest rung's size, its title as the label. */
export function venueAsSource(v: VenueInfo): SourceInfo {
  const top = v.renditions.reduce((a, b) => (b.width > a.width ? b : a));
  return { id: v.source, label: v.title, width: top.width, height: top.height, fps: top.fps };
}

export class VenueLink implements CtlLink {
  /** Every venue smx lists (operators' pages would show all; viewers use `onAir`). */
  readonly venues = signal<readonly VenueInfo[]>([]);
  readonly onAir: ReadonlySignal<readonly VenueInfo[]> = computed(() =>
    this.venues.value.filter((v) => v.onAir)
  );
  readonly #sources = computed<readonly SourceInfo[]>(() => this.onAir.value.map(venueAsSource));
  readonly ctlReady: ReadonlySignal<boolean> = signal(false);
  readonly connected = signal(false);
  /** States received (diagnostics). */
  states = 0;
  /** The Centrifuge client: audience components may add their own subscriptions to it. */
  readonly client: Centrifuge;
  readonly #sub: Subscription;

  constructor(opts: VenueLinkOptions) {
    const { api, join } = opts;
    const engine = join.engine;
    const unauthorized = (e: unknown): never => {
      if (e instanceof SignedOutError) {
        opts.onSignedOut?.(e.login);
        throw new UnauthorizedError(e.message);
      }
      throw e;
    };
    this.client = new Centrifuge(join.centrifugo.url, {
      token: join.centrifugo.token,
      getToken: () => api.connectionToken(engine).catch(unauthorized),
      name: "smx-watch",
    });
    this.client.on("connected", () => (this.connected.value = true));
    this.client.on("disconnected", () => (this.connected.value = false));
    this.client.on("connecting", () => (this.connected.value = false));
    const channel = join.centrifugo.channels.state;
    this.#sub = this.client.newSubscription(channel, {
      getToken: () => api.subscriptionToken(engine, channel).catch(unauthorized),
    });
    this.#sub.on("publication", (ctx) => {
      const list = venueList(ctx.data);
      if (!list) return;
      this.states++;
      // Same list (a republish for parameters): keep the signal, so tiles are not re-rendered.
      if (JSON.stringify(list) !== JSON.stringify(this.venues.peek())) this.venues.value = list;
    });
    this.#sub.on("error", (ctx) => console.warn(`smx watch: ${channel}:`, ctx.error?.message));
    this.#sub.subscribe();
    this.client.connect();
  }

  get sources(): ReadonlySignal<readonly SourceInfo[]> {
    return this.#sources;
  }

  publishCtl(_m: CtlMsg): boolean {
    return false; // viewers publish nothing
  }

  close(): void {
    this.#sub.unsubscribe();
    this.client.disconnect();
  }
}

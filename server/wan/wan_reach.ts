/**
 * The WAN reach inside smx: the Centrifugo relay (parameters in and out, pages' demand in) and the
 * WHIP publisher (the renditions that demand names) joined together. Nothing here listens: both
 * halves dial out, so the studio opens no port.
 */
import type { EncodeSessionManager } from "../../encoder/manager.ts";
import type { ParamMirror } from "../engine/param_mirror.ts";
import type { SourceCatalog } from "../sources.ts";
import type { WanConfig } from "./config.ts";
import { WanPublisher } from "./publisher/publisher.ts";
import { WanRelay } from "./relay/relay.ts";
import { VenueRouter } from "./venues/venues.ts";
import { AudienceService } from "./audience/service.ts";
import type { PublishedRendition } from "../../protocol/wan.ts";

export interface WanReachOptions {
  config: WanConfig;
  sessions: EncodeSessionManager;
  mirror: ParamMirror;
  catalog: SourceCatalog;
  log: (level: "debug" | "info" | "warn", msg: string) => void;
}

export class WanReach {
  readonly publisher: WanPublisher;
  readonly relay: WanRelay;
  /** Audience venues: on-air routing (server/wan/venues/README.md). */
  readonly venues: VenueRouter;
  /** Audience reactions and viewer count (server/wan/audience/). */
  readonly audience: AudienceService;
  #demanded: PublishedRendition[] = [];

  constructor(o: WanReachOptions) {
    const { config, catalog } = o;
    this.venues = new VenueRouter({
      resolveOutput: (id) => catalog.resolve(id),
      onRerouted: (source) => o.sessions.rerouted(source),
      onChange: () => {
        this.#publishWanted();
        this.relay?.stateChanged();
      },
      ladder: config.venueLadder,
      venues: config.venues,
      log: o.log,
    });
    catalog.setVirtual((id) => this.venues.resolve(id));
    this.publisher = new WanPublisher({
      engine: config.engine,
      livekit: config.livekit,
      sessions: o.sessions,
      unpublishAfterMs: config.unpublishAfterMs,
      log: o.log,
      ...(config.iceAddress
        ? {
          // werift leaves loopback out of its own host candidates: offer the address itself.
          ice: {
            bindAddress: config.iceAddress,
            extraHostAddresses: [config.iceAddress],
            ipv6: false,
          },
        }
        : {}),
    });
    this.audience = new AudienceService({
      engine: config.engine,
      centrifugo: config.centrifugo,
      mirror: o.mirror,
      log: o.log,
    });
    this.relay = new WanRelay({
      engine: config.engine,
      centrifugo: config.centrifugo,
      mirror: o.mirror,
      sources: () => catalog.list(),
      resolveSource: (id) => catalog.resolve(id),
      log: o.log,
      venues: {
        list: () => this.venues.list(),
        apply: (m, by) => {
          const r = this.venues.apply(m);
          if (r.ok) o.log("info", `venue ${m.venue}: changed by ${by}`);
          return r;
        },
      },
      onWanted: (list) => {
        this.#demanded = list;
        this.#publishWanted();
      },
      onKeyframe: (identity) => this.publisher.requestKeyframe(identity),
      audience: {
        moderate: (m, by) => {
          o.log("info", `audience ${m.op}${m.user ? ` ${m.user}` : ""} by ${by}`);
          if (m.op === "clear") this.audience.clear();
          else if (m.op === "mute") this.audience.mute(m.user!);
          else this.audience.unmute(m.user!);
        },
      },
    });
  }

  /** Pages' demand plus every on-air venue's ladder (not counted against the demand cap). */
  #publishWanted(): void {
    this.publisher?.setWanted([...this.#demanded, ...this.venues.wanted()]);
  }

  start(): this {
    this.relay.start();
    this.audience.start();
    this.#publishWanted();
    return this;
  }

  stats() {
    return {
      relay: this.relay.stats(),
      publisher: this.publisher.stats(),
      audience: this.audience.stats(),
    };
  }

  /** Unpublishes everything (DELETE) and leaves Centrifugo; bounded (see both halves). */
  async stop(): Promise<void> {
    this.audience.stop();
    await Promise.all([this.relay.stop(), this.publisher.close()]);
  }
}

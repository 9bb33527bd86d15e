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

  constructor(o: WanReachOptions) {
    const { config, catalog } = o;
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
    this.relay = new WanRelay({
      engine: config.engine,
      centrifugo: config.centrifugo,
      mirror: o.mirror,
      sources: () => catalog.list(),
      resolveSource: (id) => catalog.resolve(id),
      log: o.log,
      onWanted: (list) => this.publisher.setWanted(list),
      onKeyframe: (identity) => this.publisher.requestKeyframe(identity),
    });
  }

  start(): this {
    this.relay.start();
    return this;
  }

  stats() {
    return { relay: this.relay.stats(), publisher: this.publisher.stats() };
  }

  /** Unpublishes everything (DELETE) and leaves Centrifugo; bounded (see both halves). */
  async stop(): Promise<void> {
    await Promise.all([this.relay.stop(), this.publisher.close()]);
  }
}

/**
 * The audience inside smx's WAN reach (issue 11): its own Centrifugo connection (user
 * engineUser(engine), like the relay's ctl connection, tokens signed by smx) subscribed to
 * smx_react:<engine>, the ReactionAggregator publishing batches to smx_aud:<engine> through the
 * server API, and AudienceChannels writing the aggregate into the engine's hub. A separate
 * connection from the relay's so that a flood of reactions never queues behind (or in front of)
 * parameter writes. Moderation: mute(user) / unmute(user) / clear() (for an operator's ctl
 * message; the relay's smx_ctl is operators-only since viewers get no token for it).
 */
// The protobuf protocol: a publication's data arrives as bytes in a binary frame, so a viewer's
// invalid UTF-8 (which Centrifugo passes through) is refused by smx's own check instead of
// failing the WebSocket's text frame and dropping smx's connection (found by reactions_test).
import { Centrifuge as CentrifugeProtobuf } from "centrifuge/build/protobuf";
import { audienceChannel } from "../../../protocol/audience.ts";
import { engineUser } from "../../../protocol/wan.ts";
import type { PairingMirror } from "../../engine/pairing_channels.ts";
import { signHs256 } from "../jwt.ts";
import { CentrifugoApi } from "../relay/centrifugo_api.ts";
import { AudienceChannels } from "./audience_channels.ts";
import { ReactionAggregator } from "./reactions.ts";

export interface AudienceServiceOptions {
  engine: string;
  centrifugo: { url: string; apiUrl: string; apiKey: string; tokenSecret: string };
  mirror: PairingMirror;
  log: (level: "debug" | "info" | "warn", msg: string) => void;
  tokenTtlS?: number;
}

export class AudienceService {
  readonly aggregator: ReactionAggregator;
  readonly channels: AudienceChannels;
  #client: CentrifugeProtobuf;
  #api: CentrifugoApi;
  #viewers: number | undefined;

  constructor(private o: AudienceServiceOptions) {
    const ttl = o.tokenTtlS ?? 600;
    const exp = () => Math.floor(Date.now() / 1000) + ttl;
    const user = engineUser(o.engine);
    const secret = o.centrifugo.tokenSecret;
    this.#api = new CentrifugoApi({ apiUrl: o.centrifugo.apiUrl, apiKey: o.centrifugo.apiKey });
    this.channels = new AudienceChannels(o.mirror, (m) => o.log("warn", `audience: ${m}`));
    const aud = audienceChannel("aud", o.engine);
    this.aggregator = new ReactionAggregator({
      publish: (b) => this.#api.call("publish", { channel: aud, data: b }).then(() => {}),
      viewers: () =>
        this.#api.call<{ num_users: number }>("presence_stats", { channel: aud }).then((r) =>
          this.#viewers = r.num_users
        ),
      onAggregate: (a) => this.channels.update(a),
      log: (m) => o.log("debug", `audience: ${m}`),
    });
    this.#client = new CentrifugeProtobuf(o.centrifugo.url, {
      getToken: () => signHs256({ sub: user, exp: exp() }, secret),
      websocket: WebSocket,
      minReconnectDelay: 200,
      maxReconnectDelay: 5000,
      networkEventTarget: new EventTarget(),
      pageEventTarget: new EventTarget(),
    });
    const react = audienceChannel("react", o.engine);
    const sub = this.#client.newSubscription(react, {
      getToken: () => signHs256({ sub: user, channel: react, exp: exp() }, secret),
    });
    sub.on("publication", (ctx) => {
      // Server-API publications carry no ClientInfo: not a viewer's, ignored.
      if (!ctx.info) return;
      const name = (ctx.info.connInfo as { name?: unknown } | undefined)?.name;
      this.aggregator.receive(
        ctx.info.user,
        typeof name === "string" ? name : "viewer",
        ctx.data,
      );
    });
    sub.on("subscribed", () => o.log("info", `audience: reading ${react}`));
    sub.on("error", (e) => o.log("warn", `audience: ${react}: ${JSON.stringify(e.error)}`));
    this.#client.on(
      "error",
      (e) => o.log("debug", `audience connection: ${JSON.stringify(e.error)}`),
    );
    sub.subscribe();
  }

  start(): this {
    this.#client.connect();
    return this;
  }

  mute(user: string): void {
    this.aggregator.mute(user);
    this.o.log("info", `audience: ${user} muted`);
  }

  unmute(user: string): void {
    this.aggregator.unmute(user);
  }

  clear(): void {
    this.aggregator.clear();
    this.o.log("info", "audience: reactions cleared");
  }

  stats() {
    return { ...this.aggregator.stats, viewers: this.#viewers, hubWrites: this.channels.writes };
  }

  stop(): void {
    this.aggregator.close();
    this.#client.disconnect();
    this.#api.close();
  }
}

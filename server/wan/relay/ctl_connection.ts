/**
 * smx's own Centrifugo connection: the one that reads smx_ctl:<engine> (pages' writes, syncs,
 * demand and keyframe requests). It only ever dials out.
 *
 * Tokens: smx signs them itself with the HMAC secret (Centrifugo's `client.token.hmac_secret_key`),
 * short-lived and renewed through centrifuge-js's `getToken` (called before expiry and after a
 * refused one), so a leaked token is worth minutes:
 *   connection    { sub: engineUser(engine), exp }
 *   subscription  { sub: engineUser(engine), channel: "smx_ctl:<engine>", exp }
 *
 * Why a client-side subscription with its own token rather than a server-side `subs` claim in the
 * connection token: the ctl namespace then works for smx exactly as for a page (subscribing
 * needs a token, nothing else can), there is no server-side-subscription option to keep in step
 * with the namespace, and the subscription has states and errors of its own (a refused token,
 * a resubscribe after a Centrifugo restart) that smx can log and react to; `subscribed` is where
 * the relay republishes the state after Centrifugo comes back.
 *
 * Being subscribed is also what makes the engine "online" for the site: the ctl namespace has
 * presence on, and smx is the presence entry with user engineUser(engine).
 */
import { Centrifuge, type PublicationContext, type Subscription } from "centrifuge";
import { signHs256 } from "../jwt.ts";
import { channelOf, engineUser } from "../../../protocol/wan.ts";

export interface CtlConnectionOptions {
  engine: string;
  /** WebSocket endpoint, e.g. wss://rt.example.com/connection/websocket */
  url: string;
  tokenSecret: string;
  /** Token lifetime (default 300 s): short, renewed by getToken. */
  tokenTtlS?: number;
  /** Reconnect backoff bounds (centrifuge-js adds jitter). Defaults 250 ms and 10 s. */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * After a terminal refusal (an invalid token: wrong secret, or a namespace that refuses smx),
   * centrifuge-js gives up; smx is a daemon and tries again this much later (default 30 s), so
   * fixing Centrifugo's config is enough to bring it back.
   */
  terminalRetryMs?: number;
  onPublication(ctx: PublicationContext): void;
  /** Subscribed to smx_ctl (first time and after every reconnect). */
  onSubscribed(): void;
  log: (level: "info" | "warn", msg: string) => void;
}

export type CtlState = "disconnected" | "connecting" | "connected" | "subscribed";

export interface CtlStats {
  state: CtlState;
  clientId: string | null;
  connects: number;
  subscribes: number;
  tokensSigned: number;
  lastError: string | null;
}

export class CtlConnection {
  readonly #o: CtlConnectionOptions;
  readonly #client: Centrifuge;
  readonly #sub: Subscription;
  #state: CtlState = "disconnected";
  #clientId: string | null = null;
  #s = { connects: 0, subscribes: 0, tokensSigned: 0 };
  #lastError: string | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(o: CtlConnectionOptions) {
    this.#o = o;
    const user = engineUser(o.engine);
    const channel = channelOf("ctl", o.engine);
    const ttl = o.tokenTtlS ?? 300;
    const sign = (claims: Record<string, unknown>) => {
      this.#s.tokensSigned++;
      return signHs256({ ...claims, exp: Math.floor(Date.now() / 1000) + ttl }, o.tokenSecret);
    };
    this.#client = new Centrifuge(o.url, {
      getToken: () => sign({ sub: user }),
      websocket: WebSocket,
      name: "smx",
      minReconnectDelay: o.minReconnectDelayMs ?? 250,
      maxReconnectDelay: o.maxReconnectDelayMs ?? 10000,
      timeout: 5000,
      // No browser events here: a target that never fires keeps centrifuge-js off globalThis.
      networkEventTarget: new EventTarget(),
      pageEventTarget: new EventTarget(),
    });
    this.#sub = this.#client.newSubscription(channel, {
      getToken: () => sign({ sub: user, channel }),
      minResubscribeDelay: 250,
      maxResubscribeDelay: 10000,
    });
    this.#client.on("connecting", (c) => {
      this.#state = "connecting";
      if (this.#s.connects) this.#o.log("warn", `Centrifugo: reconnecting (${c.reason})`);
    });
    this.#client.on("connected", (c) => {
      this.#s.connects++;
      this.#clientId = c.client;
      if (this.#state !== "subscribed") this.#state = "connected";
      this.#o.log("info", `Centrifugo: connected to ${o.url} as ${user} (client ${c.client})`);
    });
    const retryMs = o.terminalRetryMs ?? 30000;
    this.#client.on("disconnected", (c) => {
      this.#state = "disconnected";
      this.#clientId = null;
      if (this.#stopped) return;
      this.#o.log(
        "warn",
        `Centrifugo refused smx for good (${c.code} ${c.reason}): check that tokenSecret is ` +
          `Centrifugo's client.token.hmac_secret_key; trying again in ${retryMs / 1000} s`,
      );
      this.#later(retryMs, () => this.#client.connect());
    });
    this.#client.on("error", (c) => {
      this.#lastError = `${c.type}: ${c.error.message}`;
      this.#o.log("warn", `Centrifugo: ${this.#lastError}`);
    });
    this.#sub.on("subscribed", () => {
      this.#s.subscribes++;
      this.#state = "subscribed";
      o.onSubscribed();
    });
    this.#sub.on("subscribing", () => {
      if (this.#state === "subscribed") this.#state = "connected";
    });
    this.#sub.on("error", (c) => {
      this.#lastError = `${channel}: ${c.type}: ${c.error.message}`;
      this.#o.log("warn", `Centrifugo: ${this.#lastError}`);
    });
    this.#sub.on("unsubscribed", (c) => {
      if (this.#stopped) return;
      if (this.#state === "subscribed") this.#state = "connected";
      this.#o.log(
        "warn",
        `Centrifugo refused smx's subscription to ${channel} (${c.code} ${c.reason}): check the ` +
          `${channel.split(":")[0]} namespace; trying again in ${retryMs / 1000} s`,
      );
      this.#later(retryMs, () => this.#sub.subscribe());
    });
    this.#sub.on("publication", (ctx) => o.onPublication(ctx));
  }

  start(): void {
    this.#sub.subscribe();
    this.#client.connect();
  }

  #later(ms: number, fn: () => void): void {
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#stopped) fn();
    }, ms);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#sub.unsubscribe();
    this.#client.disconnect();
  }

  get stats(): CtlStats {
    return {
      state: this.#state,
      clientId: this.#clientId,
      ...this.#s,
      lastError: this.#lastError,
    };
  }
}

/**
 * One published rendition: its encode subscription, its WHIP session, and the loop that keeps
 * the two together across LiveKit restarts and network loss.
 *
 * Encode subscription (decided): taken when LiveKit has accepted an offer and dropped as soon as
 * the session fails, so an outage (LiveKit down for minutes, a dead uplink) costs no encoder CPU
 * for frames nobody could receive; a shared encode keeps running for the local viewers of the
 * same rendition anyway (EncodeSessionManager counts subscribers). Resubscribing costs an
 * encoder open (tens of ms) and is what asks the session for the IDR the new WHIP session must
 * start with, while ICE and DTLS are still connecting. A retry that fails before LiveKit answers
 * (server down: connection refused) touches no encoder at all.
 *
 * Before the first keyframe after (re)connecting, deltas are dropped (the SFU's viewers could not
 * decode them) and an IDR is asked for. PLI/FIR from the SFU and pages' keyframe requests ask the
 * encode session for an IDR without holding back deltas (EncodeSession.requestIdr: the other
 * viewers keep decoding), within the session's own MIN_IDR_INTERVAL_MS; pages' requests also
 * pass a token bucket, as local clients' do.
 *
 * Every access unit gets the frame timing SEI (protocol/frame_sei.ts) so a page knows the engine
 * frame and capture time of what it draws.
 */
import type { EncodeSessionManager, Subscription } from "../../../encoder/manager.ts";
import type { SessionState } from "../../../encoder/session.ts";
import { defaultBitrateKbps, type EncodedFrame } from "../../../ffi/encoder.ts";
import { nowUs } from "../../../ffi/lib.ts";
import { withFrameSei } from "../../../protocol/frame_sei.ts";
import { type PublishedRendition, publisherIdentity } from "../../../protocol/wan.ts";
import { TokenBucket } from "../../params/token_bucket.ts";
import { backoffMs } from "./backoff.ts";
import { type IceServer, iceServersKey } from "./link_header.ts";
import { type LiveKitKeys, publishToken } from "./tokens.ts";
import { WhipHttpError } from "./whip_http.ts";
import { type IceOptions, WhipConnectError, WhipSession } from "./whip_session.ts";

export type PublishState = "connecting" | "publishing" | "retrying" | "stopping";

/** Pages' keyframe requests for one rendition: per second, burst (as the local reach allows). */
const PAGE_KEYFRAME_RATE = 1;
const PAGE_KEYFRAME_BURST = 3;
/** Pacing: at least this rate (bytes/s), or this many times the rendition's bitrate. */
const PACE_MIN_BYTES_PER_S = 20_000_000 / 8;
const PACE_BITRATE_FACTOR = 8;
/** A session that lasted this long counts as having worked: the next failure starts backoff over. */
const STABLE_SESSION_MS = 10_000;
/** A frame's packets are spread over at most this, and at most a third of a frame interval. */
const PACE_MAX_SPREAD_MS = 8;

export interface RenditionPublisherOptions {
  engine: string;
  rendition: PublishedRendition;
  /** LiveKit's HTTP base. */
  base: string;
  keys: LiveKitKeys;
  sessions: EncodeSessionManager;
  /** ICE servers learned from LiveKit so far (shared by all renditions). */
  iceServers: () => IceServer[];
  /** An answer named these ICE servers. */
  learnIceServers: (servers: IceServer[]) => void;
  ice?: IceOptions;
  log: (level: "debug" | "info" | "warn", msg: string) => void;
}

export interface RenditionStats {
  identity: string;
  state: PublishState;
  framesSent: number;
  bytesSent: number;
  keyframes: number;
  plis: number;
  reconnects: number;
  /** The last failure seen, kept after recovery (the state says whether it still applies). */
  lastError?: string;
}

export class RenditionPublisher {
  readonly identity: string;
  #state: PublishState = "connecting";
  #stopped = false;
  #stopping: Promise<void> | undefined;
  #abort = new AbortController();
  #session: WhipSession | undefined;
  #sub: Subscription | undefined;
  #needKeyframe = true;
  #failure: PromiseWithResolvers<string> | undefined;
  #wake: (() => void) | undefined;
  #pageKeyframes = new TokenBucket(PAGE_KEYFRAME_RATE, PAGE_KEYFRAME_BURST);
  #published = 0;
  #stats = { framesSent: 0, bytesSent: 0, keyframes: 0, plis: 0, reconnects: 0 };
  #lastError: string | undefined;
  #loop: Promise<void>;

  constructor(private readonly o: RenditionPublisherOptions) {
    this.identity = publisherIdentity(o.rendition);
    this.#loop = this.#run();
  }

  get state(): PublishState {
    return this.#state;
  }

  stats(): RenditionStats {
    return {
      identity: this.identity,
      state: this.#state,
      ...this.#stats,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /** A page cannot decode until an IDR (rate-limited per rendition). */
  requestKeyframe(): void {
    if (this.#sub && this.#pageKeyframes.take()) this.#sub.session.requestIdr();
  }

  /** Ends the session (DELETE, bounded by `timeoutMs`) and the encode subscription. */
  stop(timeoutMs = 2000): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      this.#state = "stopping";
      this.#abort.abort(new Error("stopped"));
      this.#wake?.();
      this.#failure?.resolve("stopped");
      this.#unsubscribe();
      const s = this.#session;
      this.#session = undefined;
      try {
        await s?.close({ timeoutMs });
      } catch (e) {
        this.o.log("debug", `${this.identity}: DELETE on stop failed: ${(e as Error).message}`);
      }
      await this.#loop;
    })();
    return this.#stopping;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  #subscribe(): void {
    if (this.#sub || this.#stopped) return;
    const { source, width, height, fps } = this.o.rendition;
    this.#sub = this.o.sessions.subscribe(source, { width, height, fps }, {
      onFrame: (f) => this.#onFrame(f),
      onState: (state: SessionState, detail: string) => {
        if (state === "stopped" && detail) this.#failure?.resolve(`encoder: ${detail}`);
      },
    }, "h264-baseline");
  }

  #unsubscribe(): void {
    this.#sub?.close();
    this.#sub = undefined;
  }

  #onFrame(f: EncodedFrame): void {
    const s = this.#session;
    if (!s?.connected) return; // connecting: nothing can be sent yet, and nothing is queued
    if (this.#needKeyframe) {
      if (!f.keyframe) {
        this.#sub?.requestKeyframe(); // the session then holds our deltas back until its IDR
        return;
      }
      this.#needKeyframe = false;
    }
    const au = withFrameSei(f.data, {
      frame: f.frame,
      captureUs: f.captureUs,
      sentUs: Number(nowUs()),
      encodeMs: f.convertMs + f.encodeMs,
    });
    this.#stats.framesSent++;
    this.#stats.bytesSent += au.byteLength;
    if (f.keyframe) this.#stats.keyframes++;
    s.sendFrame(au, f.captureUs, f.keyframe).catch((e) =>
      this.o.log("debug", `${this.identity}: send failed: ${(e as Error).message}`)
    );
  }

  #pacing() {
    const { width, height, fps } = this.o.rendition;
    const bytesPerS = defaultBitrateKbps(width, height, fps) * 1000 / 8;
    return {
      rateBytesPerSecond: Math.max(PACE_MIN_BYTES_PER_S, bytesPerS * PACE_BITRATE_FACTOR),
      maxSpreadMs: Math.min(PACE_MAX_SPREAD_MS, 1000 / fps / 3),
    };
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      // A source the engine does not offer now (engine restarting, an output removed): wait here
      // rather than create a LiveKit participant that would leave again at once.
      if (!this.o.sessions.resolve(this.o.rendition.source)) {
        this.#fail(new Error(`source "${this.o.rendition.source}" is not offered now`));
        await this.#sleep(backoffMs(attempt++));
        continue;
      }
      const failure = Promise.withResolvers<string>();
      this.#failure = failure;
      const iceKey = iceServersKey(this.o.iceServers());
      let session: WhipSession | undefined;
      try {
        session = await WhipSession.open({
          base: this.o.base,
          token: () => publishToken(this.o.keys, this.o.engine, this.o.rendition),
          iceServers: this.o.iceServers(),
          ice: this.o.ice,
          pacing: this.#pacing(),
          signal: this.#abort.signal,
          onAnswer: () => this.#subscribe(),
          onKeyframeRequest: (kind) => {
            this.#stats.plis++;
            this.o.log("debug", `${this.identity}: ${kind.toUpperCase()} from the SFU`);
            this.#sub?.session.requestIdr();
          },
          onFailed: (reason) => failure.resolve(reason),
        });
      } catch (e) {
        if (this.#stopped) break;
        this.#unsubscribe();
        const err = e as Error;
        this.#fail(err);
        // A media path that never came up while the answer named ICE servers this attempt did
        // not have (the first session learns them): try again at once with them.
        if (
          e instanceof WhipConnectError && e.answeredIceServers.length &&
          iceServersKey(e.answeredIceServers) !== iceKey
        ) {
          this.o.learnIceServers(e.answeredIceServers);
          continue;
        }
        await this.#sleep(backoffMs(attempt++));
        continue;
      }
      if (this.#stopped) {
        await session.close().catch(() => {});
        break;
      }
      if (session.iceServers.length) this.o.learnIceServers(session.iceServers);
      this.#session = session;
      this.#needKeyframe = true;
      this.#subscribe(); // normally done on the answer already
      this.#sub?.requestKeyframe();
      if (this.#published++ > 0) this.#stats.reconnects++;
      this.#state = "publishing";
      const upAt = performance.now();
      this.o.log("info", `${this.identity}: publishing (${session.location})`);

      const reason = await failure.promise;
      if (this.#stopped) break;
      // Backoff starts over only after a session that held: one that keeps failing soon after it
      // came up (a second smx publishing the same identity, which LiveKit answers by closing the
      // older one) must back off rather than take the identity back twice a second.
      const lasted = Math.round(performance.now() - upAt);
      if (lasted >= STABLE_SESSION_MS) attempt = 0;
      else {
        this.o.log(
          "warn",
          `${this.identity}: the session failed ${lasted} ms after it came up (another smx ` +
            "publishing this engine id? LiveKit closes the older of two sessions with one identity)",
        );
      }
      // The server may still hold the participant (a network blip rather than a restart):
      // DELETE it in the background so a reconnect does not wait on a dead server's timeout.
      this.#session = undefined;
      this.#unsubscribe();
      session.close({ timeoutMs: 1000 }).catch((e) =>
        this.o.log("debug", `${this.identity}: DELETE after failure: ${(e as Error).message}`)
      );
      this.#fail(new Error(reason));
      await this.#sleep(backoffMs(attempt++));
    }
  }

  #fail(e: Error): void {
    if (this.#stopped) return;
    this.#state = "retrying";
    this.#lastError = e.message;
    const permanent = e instanceof WhipHttpError && e.permanent;
    this.o.log(
      permanent ? "warn" : "info",
      `${this.identity}: ${e.message}${permanent ? " (check the LiveKit URL and keys)" : ""}`,
    );
  }
}

/**
 * One WHIP session: a werift peer connection that sends one H.264 video track (Constrained
 * Baseline 42e01f, packetization-mode 1: what LiveKit takes without server settings) to a
 * LiveKit room, and everything that keeps it honest:
 *
 * - the offer carries every candidate (LiveKit does not trickle, so neither do we): it is sent
 *   once gathering completes, or after `gatherTimeoutMs` with what has been gathered;
 * - the 201 answer's `Link` ICE servers are returned in `iceServers` for the caller to use on its
 *   next connect. werift takes ICE servers only when the peer connection is built, before the
 *   offer exists, and LiveKit names them only in the answer (its OPTIONS deliberately does not;
 *   whipservice.go says why), so servers learned from one session serve the next one
 *   (WanPublisher shares them across sessions and reconnects at once when a session fails
 *   before connecting and the answer named servers it did not have);
 * - failure is reported once through `onFailed`: ICE/DTLS state failed or closed, disconnected
 *   for DISCONNECTED_GRACE_MS, or RTP going out for RTCP_SILENCE_MS with no RTCP coming back.
 *   The last one matters: werift's consent check takes 30 s to notice a server that vanished or
 *   froze, while the SFU answers media with receiver reports and transport-cc feedback several
 *   times a second (max gap ~0.4 s measured). It answers only media, though: while nothing is
 *   sent (the engine restarting) its RTCP stops too, so silence counts only from the first RTP
 *   packet sent after the last RTCP;
 * - PLI and FIR from the SFU go to `onKeyframeRequest` (the owner asks the encoder for an IDR);
 * - an access unit becomes RTP packets (h264_rtp.ts) handed to the pacer (pacer.ts), which spreads
 *   keyframe bursts over a few milliseconds;
 * - close() DELETEs the resource (with a fresh token) so the participant leaves at once rather
 *   than when LiveKit times it out.
 */
import {
  RTCPeerConnection,
  type RtcpPacket,
  RTCRtpCodecParameters,
  type RTCRtpSender,
  type RtpPacket,
  useFIR,
  useNACK,
  usePLI,
  useSdesMid,
  useTransportWideCC,
  useTWCC,
} from "werift";
import type { IceServer } from "./link_header.ts";
import { Pacer } from "./pacer.ts";
import { H264RtpPacketizer } from "./h264_rtp.ts";
import { whipDelete, whipPost } from "./whip_http.ts";

/** Constrained Baseline level 3.1, packetization-mode 1: registered by LiveKit by default. */
export const H264_FMTP = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/** ICE + DTLS must be up this long after the answer, or the attempt failed. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** "disconnected" may heal by itself (a consent check lost); longer than this it is a failure. */
export const DISCONNECTED_GRACE_MS = 3_000;
/** RTP sent this long with no RTCP back (RR, transport-cc, PLI…): the SFU is gone. */
export const RTCP_SILENCE_MS = 4_000;
const WATCHDOG_TICK_MS = 500;
/** No RTP for this long: a pause in sending (the watchdog does not count it as silence). */
const SENDING_GAP_MS = 1_000;
export const DEFAULT_GATHER_TIMEOUT_MS = 2_000;
/** How long close() waits for the DELETE. */
export const DELETE_TIMEOUT_MS = 2_000;

const PSFB = 206, PLI_FMT = 1, FIR_FMT = 4;

export interface IceOptions {
  /** Local address ICE sockets bind to (default: every address). */
  bindAddress?: string;
  /** Host addresses offered besides the machine's interfaces (werift skips loopback itself). */
  extraHostAddresses?: string[];
  /** Offer IPv6 host candidates (default true). */
  ipv6?: boolean;
  /** Longest wait for gathering before the offer goes with what it has (default 2 s). */
  gatherTimeoutMs?: number;
}

export interface PacingOptions {
  rateBytesPerSecond: number;
  maxSpreadMs: number;
  burstBytes?: number;
}

export interface WhipSessionOptions {
  /** LiveKit's HTTP base (livekit_url.ts). */
  base: string;
  /** A fresh publish token for each request (tokens.ts). */
  token: () => Promise<string>;
  iceServers: IceServer[];
  ice?: IceOptions;
  pacing: PacingOptions;
  onKeyframeRequest: (kind: "pli" | "fir") => void;
  /** Called at most once, when an established session stops working. */
  onFailed: (reason: string) => void;
  /** The server accepted the offer (media may start soon: time to warm up the encoder). */
  onAnswer?: () => void;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

/** The session could not be set up past the HTTP exchange (ICE/DTLS did not connect). */
export class WhipConnectError extends Error {
  constructor(message: string, readonly answeredIceServers: IceServer[]) {
    super(message);
    this.name = "WhipConnectError";
  }
}

export interface WhipSessionStats {
  packets: number;
  bytes: number;
  frames: number;
  keyframes: number;
  plis: number;
  firs: number;
  nacks: number;
  pacedFrames: number;
  /** RTCP packets from the SFU, and the longest silence between two (the watchdog's margin). */
  rtcp: number;
  maxRtcpGapMs: number;
}

/**
 * Waits for an event value that `accept`s (subscribed before the action that may cause it), a
 * timeout, or the abort signal. `cancel()` when the state was reached some other way: nothing is
 * left pending (no timer, no subscription, no rejection nobody awaits).
 */
function waitFor<T>(
  subscribe: (fn: (v: T) => void) => { unSubscribe(): void },
  accept: (v: T) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): { promise: Promise<T | "timeout">; cancel(): void } {
  let settle: (v: T | "timeout") => void = () => {};
  let cancel = () => {};
  const promise = new Promise<T | "timeout">((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(t);
      sub.unSubscribe();
      signal?.removeEventListener("abort", onAbort);
    };
    settle = (v) => {
      cleanup();
      resolve(v);
    };
    const onAbort = () => {
      cleanup();
      reject(signal!.reason);
    };
    cancel = () => settle("timeout");
    const sub = subscribe((v) => accept(v) && settle(v));
    const t = setTimeout(() => settle("timeout"), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
  });
  return { promise, cancel: () => cancel() };
}

export class WhipSession {
  readonly #pc: RTCPeerConnection;
  readonly #sender: RTCRtpSender;
  readonly #opts: WhipSessionOptions;
  readonly #packetizer = new H264RtpPacketizer();
  readonly #pacer: Pacer<RtpPacket>;
  #location = "";
  #iceServers: IceServer[] = [];
  #failed = false;
  #closing: Promise<void> | undefined;
  #lastRtcpMs = performance.now();
  /** First RTP packet sent since the last RTCP arrived (undefined: none). */
  #rtpSinceRtcpMs: number | undefined;
  #lastRtpMs = -Infinity;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #disconnectedSince: number | undefined;
  #unsubscribe: (() => void)[] = [];
  #stats: WhipSessionStats = {
    packets: 0,
    bytes: 0,
    frames: 0,
    keyframes: 0,
    plis: 0,
    firs: 0,
    nacks: 0,
    pacedFrames: 0,
    rtcp: 0,
    maxRtcpGapMs: 0,
  };

  private constructor(opts: WhipSessionOptions) {
    this.#opts = opts;
    const ice = opts.ice ?? {};
    this.#pc = new RTCPeerConnection({
      codecs: {
        audio: [],
        video: [
          new RTCRtpCodecParameters({
            mimeType: "video/H264",
            clockRate: 90_000,
            rtcpFeedback: [useNACK(), usePLI(), useFIR(), useTWCC()],
            parameters: H264_FMTP,
          }),
        ],
      },
      headerExtensions: { audio: [], video: [useSdesMid(), useTransportWideCC()] },
      // werift's default is Google's STUN server: only what LiveKit (or the operator) names.
      iceServers: opts.iceServers.map((s) => ({ ...s })),
      iceUseIpv6: ice.ipv6 ?? true,
      iceUseTcp: false, // a passive ICE-TCP candidate would be a listening socket for nothing
      iceInterfaceAddresses: ice.bindAddress
        ? (ice.bindAddress.includes(":") ? { udp6: ice.bindAddress } : { udp4: ice.bindAddress })
        : undefined,
      iceAdditionalHostAddresses: ice.extraHostAddresses,
      iceStunGatherTimeout: Math.ceil((ice.gatherTimeoutMs ?? DEFAULT_GATHER_TIMEOUT_MS) / 1000),
    });
    this.#sender = this.#pc.addTransceiver("video", { direction: "sendonly" }).sender;
    const p = opts.pacing;
    this.#pacer = new Pacer<RtpPacket>(
      {
        rateBytesPerSecond: p.rateBytesPerSecond,
        maxSpreadMs: p.maxSpreadMs,
        burstBytes: p.burstBytes ?? 12 * 1200,
      },
      (pkt) => pkt.payload.length + 12,
      (pkt) => this.#write(pkt),
    );
  }

  /**
   * Offers, POSTs, applies the answer and waits until ICE and DTLS are connected. Throws
   * WhipHttpError / WhipNetworkError (the HTTP exchange) or WhipConnectError (media path).
   */
  static async open(opts: WhipSessionOptions): Promise<WhipSession> {
    const s = new WhipSession(opts);
    try {
      await s.#negotiate();
      return s;
    } catch (e) {
      await s.close();
      throw e;
    }
  }

  /** The resource URL LiveKit gave this session (absolute). */
  get location(): string {
    return this.#location;
  }
  /** ICE servers the answer's Link headers named (for the next session). */
  get iceServers(): IceServer[] {
    return this.#iceServers;
  }
  get connected(): boolean {
    return !this.#failed && !this.#closing && this.#pc.connectionState === "connected";
  }
  stats(): WhipSessionStats {
    return { ...this.#stats, pacedFrames: this.#pacer.paced };
  }

  async #negotiate(): Promise<void> {
    const { signal } = this.#opts;
    const gatherMs = this.#opts.ice?.gatherTimeoutMs ?? DEFAULT_GATHER_TIMEOUT_MS;
    const gathered = waitFor<string>(
      (fn) => this.#pc.iceGatheringStateChange.subscribe(fn),
      (st) => st === "complete",
      gatherMs,
      signal,
    );
    try {
      await this.#pc.setLocalDescription(await this.#pc.createOffer());
      if (this.#pc.iceGatheringState !== "complete") await gathered.promise;
    } finally {
      gathered.cancel();
    }
    const offer = this.#pc.localDescription?.sdp;
    if (!offer || !/^a=candidate:/m.test(offer)) {
      throw new WhipConnectError("no ICE candidate was gathered", []);
    }
    const answer = await whipPost(this.#opts.base, await this.#opts.token(), offer, signal);
    this.#location = answer.location;
    this.#iceServers = answer.iceServers;
    this.#opts.onAnswer?.();
    const connected = waitFor<string>(
      (fn) => this.#pc.connectionStateChange.subscribe(fn),
      (st) => st === "connected" || st === "failed" || st === "closed",
      this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      signal,
    );
    let st: string;
    try {
      await this.#pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      st = this.#pc.connectionState === "connected" ? "connected" : await connected.promise;
    } finally {
      connected.cancel();
    }
    if (st !== "connected") {
      throw new WhipConnectError(
        st === "timeout"
          ? `ICE/DTLS did not connect within ${
            this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
          } ms`
          : `ICE/DTLS ${st}`,
        answer.iceServers,
      );
    }
    this.#watch();
  }

  #watch(): void {
    const state = this.#pc.connectionStateChange.subscribe((st) => {
      if (st === "failed" || st === "closed") this.#fail(`connection ${st}`);
      else if (st === "disconnected") this.#disconnectedSince ??= performance.now();
      else if (st === "connected") this.#disconnectedSince = undefined;
    });
    const transport = this.#sender.dtlsTransport;
    const rtcp = transport.onRtcp.subscribe((p: RtcpPacket) => this.#onRtcp(p));
    const dtls = transport.onStateChange.subscribe((st: string) => {
      if (st === "closed" || st === "failed") this.#fail(`DTLS ${st}`);
    });
    const nack = this.#sender.onGenericNack.subscribe(() => this.#stats.nacks++);
    this.#unsubscribe.push(
      () => state.unSubscribe(),
      () => rtcp.unSubscribe(),
      () => dtls.unSubscribe(),
      () => nack.unSubscribe(),
    );
    this.#lastRtcpMs = performance.now();
    let lastTick = performance.now();
    this.#watchdog = setInterval(() => {
      const now = performance.now();
      const late = now - lastTick > 2 * WATCHDOG_TICK_MS;
      lastTick = now;
      // A tick this late means our own event loop stalled: the RTCP that arrived meanwhile is
      // still queued behind this callback. Judge on the next tick.
      if (late) return;
      const rtpSince = this.#rtpSinceRtcpMs;
      const sending = now - this.#lastRtpMs < SENDING_GAP_MS;
      if (sending && rtpSince !== undefined && now - rtpSince > RTCP_SILENCE_MS) {
        this.#fail(`no RTCP from the SFU for ${RTCP_SILENCE_MS} ms of sending`);
      } else if (
        this.#disconnectedSince !== undefined &&
        now - this.#disconnectedSince > DISCONNECTED_GRACE_MS
      ) this.#fail(`ICE disconnected for ${DISCONNECTED_GRACE_MS} ms`);
    }, WATCHDOG_TICK_MS);
  }

  #onRtcp(p: RtcpPacket): void {
    const now = performance.now();
    this.#stats.rtcp++;
    this.#stats.maxRtcpGapMs = Math.max(this.#stats.maxRtcpGapMs, now - this.#lastRtcpMs);
    this.#lastRtcpMs = now;
    this.#rtpSinceRtcpMs = undefined;
    if (p.type !== PSFB) return;
    // deno-lint-ignore no-explicit-any
    const fb = (p as any).feedback as {
      count?: number;
      mediaSsrc?: number;
      fir?: { ssrc: number }[];
    };
    if (fb?.count === PLI_FMT && fb.mediaSsrc === this.#sender.ssrc) {
      this.#stats.plis++;
      this.#opts.onKeyframeRequest("pli");
    } else if (fb?.count === FIR_FMT && fb.fir?.some((f) => f.ssrc === this.#sender.ssrc)) {
      // werift's router does not hand FIR (media SSRC 0 in its header) to the sender: read it here.
      this.#stats.firs++;
      this.#opts.onKeyframeRequest("fir");
    }
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closing) return;
    this.#failed = true;
    this.#opts.onFailed(reason);
  }

  #write(pkt: RtpPacket): void {
    if (this.#failed || this.#closing) return;
    const now = performance.now();
    // After a pause in sending (no frames), silence is counted afresh: the SFU had nothing to
    // answer, and the RTCP about the last packets before the pause may never come.
    if (now - this.#lastRtpMs > SENDING_GAP_MS) this.#rtpSinceRtcpMs = undefined;
    this.#lastRtpMs = now;
    this.#rtpSinceRtcpMs ??= now;
    this.#stats.packets++;
    this.#stats.bytes += pkt.payload.length + 12;
    this.#sender.sendRtp(pkt).catch((e) => this.#fail(`RTP send failed: ${e?.message ?? e}`));
  }

  /**
   * Sends one access unit (Annex-B, SEI already inserted) captured at `captureUs`. Resolves when
   * its last packet has left the pacer. False: the session is not connected (nothing sent).
   */
  sendFrame(au: Uint8Array, captureUs: number, keyframe: boolean): Promise<boolean> {
    if (!this.connected) return Promise.resolve(false);
    const packets = this.#packetizer.packetize(au, captureUs);
    this.#stats.frames++;
    if (keyframe) this.#stats.keyframes++;
    return this.#pacer.push(packets).then(() => true);
  }

  /**
   * Ends the session: DELETE (when it got that far; bounded by `timeoutMs`) and the peer
   * connection. Idempotent. `deleteResource: false` when the server is known to be gone.
   */
  close(opts: { deleteResource?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#watchdog);
      for (const u of this.#unsubscribe.splice(0)) u();
      this.#pacer.close();
      try {
        if (this.#location && opts.deleteResource !== false) {
          await whipDelete(
            this.#location,
            await this.#opts.token(),
            AbortSignal.timeout(opts.timeoutMs ?? DELETE_TIMEOUT_MS),
          );
        }
      } finally {
        await this.#pc.close().catch(() => {});
      }
    })();
    return this.#closing;
  }
}

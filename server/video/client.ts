/**
 * One browser's video socket: its tiles' streams (stream id → shared encode session), and the
 * rule that keeps each viewer's delay bounded whatever its link, decoder or our encoder do.
 *
 * Delay bound: the page acknowledges every frame as it arrives (see InFlight). A frame is sent
 * only while the oldest unacknowledged one is younger than BEHIND_MS; otherwise it is dropped,
 * the stream waits for the next keyframe, and nothing queues anywhere: a viewer is never more
 * than about BEHIND_MS plus one frame's transfer behind, and never delays the encoder or others.
 *
 * Adaptation: each stream has a RateController over its rendition ladder. Repeated drops (a link
 * slower than the stream), the page's reports (its decoder or canvas cannot keep up) and an
 * overloaded encode session move the viewer down; quiet spells probe back up. Moving means
 * joining another shared session, announced with a new `subscribed` (the page reconfigures at
 * the keyframe that follows) that says what limits it.
 *
 * Codec: a subscribe names what the page can decode (H.264 Main, Constrained Baseline or JPEG;
 * default H.264). A stream only ever moves between renditions of its own codec.
 */
import { defaultBitrateKbps, type EncodedFrame } from "../../ffi/encoder.ts";
import { estimateJpegKbps } from "../../ffi/jpeg.ts";
import type { EncodeSessionManager, Subscription } from "../../encoder/manager.ts";
import { UnknownSourceError } from "../../encoder/manager.ts";
import { isIntraOnly } from "../../encoder/codec_encoder.ts";
import {
  demandError,
  type Rendition,
  renditionFor,
  renditionLadder,
} from "../../protocol/size_classes.ts";
import {
  DEFAULT_VIDEO_CODEC,
  isVideoCodec,
  packVideoFrame,
  VIDEO_CODECS,
  type VideoClientMessage,
  type VideoCodec,
  type VideoLimit,
  type VideoReport,
  type VideoServerMessage,
} from "../../protocol/video.ts";
import { nowUs } from "../../ffi/lib.ts";
import { TokenBucket } from "../params/token_bucket.ts";
import { InFlight } from "./in_flight.ts";
import { RateController } from "./rate_controller.ts";

export const MAX_CONTROL_BYTES = 4096;
export const MAX_STREAMS_PER_CLIENT = 16;
/**
 * The delay bound: at most this much video unacknowledged (≈ 9 frames at 60 fps, 4 at 30). Above
 * it the viewer skips to the next keyframe. Large enough for a keyframe of the rendition a slow
 * link is moved to (sized to cross it in well under this), small enough to feel live.
 */
export const BEHIND_MS = 150;
/** The runtime's own send queue: also a sign of a socket that cannot drain. */
export const MAX_BUFFERED_BYTES = 512 * 1024;
/** Below this share of what was sent in the last second delivered, the link is short. */
const LINK_SHORT_SHARE = 0.7;
/** Drops this close together mean the link or the page, not a passing stall, is short. */
const LINK_TROUBLE_WINDOW_MS = 2000;
/** Reports and encoder load are ignored this long after a stream (re)starts (decoder warm-up). */
const WARMUP_MS = 2000;
const TICK_MS = 250;
/** A stream served from another rendition for lack of budget looks for room this often. */
const BUDGET_RETRY_MS = 2000;

/** Keyframe requests a client may cause (its own and its streams' drops): per second, burst. */
const KEYFRAME_RATE = 1;
const KEYFRAME_BURST = 3;
/** Subscribes (tiles appearing, resizes: a tile re-keys at most every 150 ms) per second, burst. */
const SUBSCRIBE_RATE = 20;
const SUBSCRIBE_BURST = 60;

/** What a tile asked for: the source, its size and rate, and the codec its page decodes. */
interface Demand {
  source: string;
  codec: VideoCodec;
  /** The tile's demand, as asked. */
  want: Rendition;
  /** renditionFor(want): what it would get with no limit. */
  asked: Rendition;
}

interface Stream extends Demand {
  id: number;
  ctl: RateController;
  sub: Subscription;
  announced: boolean; // "subscribed" (with codec) went out; frames only after it
  needsKeyframe: boolean;
  /** A keyframe is needed but the client's keyframe allowance was spent: ask on a later tick. */
  keyOwed: boolean;
  attachedMs: number;
  lastBehindMs: number;
  badReports: number;
  sentTimes: number[];
  sent: number;
  dropped: number;
  behindDrops: number;
}

export interface VideoClientStats {
  inFlightFrames: number;
  inFlightBytes: number;
  deliveryKbps: number;
  streams: {
    stream: number;
    session: string;
    sent: number;
    dropped: number;
    behindDrops: number;
    limited: VideoLimit | null;
    level: number;
  }[];
}

export class VideoClient {
  #streams = new Map<number, Stream>();
  #inFlight = new InFlight();
  #keyframes = new TokenBucket(KEYFRAME_RATE, KEYFRAME_BURST);
  #subscribes = new TokenBucket(SUBSCRIBE_RATE, SUBSCRIBE_BURST);
  #timer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly sessions: EncodeSessionManager,
    private readonly log: (msg: string) => void = () => {},
    /** `adapt: false` pins every stream at its demand (see RateController). */
    private readonly opts: { adapt: boolean } = { adapt: true },
  ) {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => {
      try {
        this.#onMessage(ev.data);
      } catch (e) { // a bug here must not take smx down
        this.log(`video client: message handling failed: ${(e as Error).message}`);
      }
    };
    socket.onclose = () => this.close();
    socket.onerror = () => this.close();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  stats(): VideoClientStats {
    const now = performance.now();
    return {
      inFlightFrames: this.#inFlight.frames,
      inFlightBytes: this.#inFlight.bytes,
      deliveryKbps: Math.round(this.#inFlight.deliveryRate(now) * 8 / 1000),
      streams: [...this.#streams.values()].map((s) => ({
        stream: s.id,
        session: s.sub.session.id,
        sent: s.sent,
        dropped: s.dropped,
        behindDrops: s.behindDrops,
        limited: this.#limit(s),
        level: s.ctl.level,
      })),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const s of this.#streams.values()) s.sub.close();
    this.#streams.clear();
  }

  #send(msg: VideoServerMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    if (typeof data !== "string") {
      return this.#send({ type: "error", message: "binary messages are not accepted here" });
    }
    if (data.length > MAX_CONTROL_BYTES) {
      return this.#send({
        type: "error",
        message: `control message over ${MAX_CONTROL_BYTES} bytes`,
      });
    }
    let msg: VideoClientMessage;
    try {
      msg = JSON.parse(data);
    } catch {
      return this.#send({ type: "error", message: "control message is not valid JSON" });
    }
    if (!msg || typeof msg !== "object") {
      return this.#send({ type: "error", message: "control message must be a JSON object" });
    }
    const stream = (msg as { stream?: unknown }).stream;
    if (typeof stream !== "number" || !Number.isInteger(stream) || stream < 0 || stream > 65535) {
      return this.#send({ type: "error", message: "stream must be an integer from 0 to 65535" });
    }
    switch (msg.type) {
      case "ack":
        // Acks are the hot path (one per frame): no reply, not even to a bad one.
        if (typeof msg.frame === "number") this.#inFlight.ack(stream, msg.frame, performance.now());
        return;
      case "report": {
        const s = this.#streams.get(stream);
        if (s) this.#onReport(s, msg);
        return;
      }
      case "subscribe":
        return this.#subscribe(msg);
      case "unsubscribe":
        this.#streams.get(stream)?.sub.close();
        this.#streams.delete(stream);
        return;
      case "keyframe": {
        const s = this.#streams.get(stream);
        if (!s) return this.#send({ type: "error", stream, message: "no such stream" });
        s.needsKeyframe = true;
        this.#askKeyframe(s);
        return;
      }
      default:
        return this.#send({
          type: "error",
          stream,
          message: `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`,
        });
    }
  }

  #subscribe(msg: Extract<VideoClientMessage, { type: "subscribe" }>): void {
    const { stream } = msg;
    const bad = typeof msg.source !== "string" || msg.source.length > 128
      ? "source must be a string of at most 128 characters"
      : demandError(msg);
    if (bad) return this.#send({ type: "error", stream, message: bad });
    const codec = msg.codec ?? DEFAULT_VIDEO_CODEC;
    if (!isVideoCodec(codec)) {
      return this.#send({
        type: "error",
        stream,
        message: `codec must be one of ${VIDEO_CODECS.join(", ")}`,
      });
    }
    const existing = this.#streams.get(stream);
    if (!existing && this.#streams.size >= MAX_STREAMS_PER_CLIENT) {
      return this.#send({
        type: "error",
        stream,
        message: `at most ${MAX_STREAMS_PER_CLIENT} streams per client`,
      });
    }
    if (!this.#subscribes.take()) {
      return this.#send({
        type: "error",
        stream,
        message: `over ${SUBSCRIBE_RATE} subscribes/s; try again shortly`,
      });
    }
    const src = this.sessions.resolve(msg.source);
    if (!src) {
      return this.#send({
        type: "error",
        stream,
        message: new UnknownSourceError(msg.source).message,
      });
    }
    const want = { width: msg.width, height: msg.height, fps: msg.fps };
    let ladder: Rendition[];
    try {
      ladder = renditionLadder(want, src);
    } catch (e) {
      return this.#send({
        type: "error",
        stream,
        message: `cannot subscribe: ${(e as Error).message}`,
      });
    }
    // A re-subscribe (resize) keeps the stream's place on its ladder: the link did not change.
    // Another source or codec starts afresh: its bit rates are not the ones the place was found
    // with.
    const ctl = existing && existing.source === msg.source && existing.codec === codec
      ? existing.ctl
      : new RateController(ladder, kbpsEstimate(codec), !this.opts.adapt);
    ctl.setLadder(ladder);
    this.#attach(stream, { source: msg.source, codec, want, asked: renditionFor(want, src) }, ctl);
  }

  /** Joins the session for the controller's rendition, replacing the stream's current one. */
  #attach(id: number, demand: Demand, ctl: RateController) {
    const { source, codec, want, asked } = demand; // a Stream may be passed: copy only these
    const existing = this.#streams.get(id);
    const entry: Stream = {
      id,
      source,
      codec,
      want,
      asked,
      ctl,
      sub: undefined!,
      announced: false,
      needsKeyframe: true,
      keyOwed: false,
      attachedMs: performance.now(),
      lastBehindMs: existing?.lastBehindMs ?? -Infinity,
      badReports: 0,
      sentTimes: [],
      sent: existing?.sent ?? 0,
      dropped: existing?.dropped ?? 0,
      behindDrops: existing?.behindDrops ?? 0,
    };
    let sub: Subscription;
    try {
      sub = this.sessions.subscribe(source, ctl.rendition, {
        onFrame: (f) => this.#onFrame(entry, f),
        onState: (state, detail) => {
          if (state === "stopped" && detail) {
            this.#send({ type: "ended", stream: id, reason: detail });
          }
        },
      }, codec);
    } catch (e) {
      const message = e instanceof UnknownSourceError ? e.message : `cannot subscribe: ${e}`;
      return this.#send({ type: "error", stream: id, message });
    }
    entry.sub = sub;
    // Attach the new session before dropping the old one, so a shared session is not torn down
    // and restarted in between.
    existing?.sub.close();
    this.#streams.set(id, entry);
    sub.session.ready.then(() => {
      if (this.#streams.get(id) !== entry) return; // re-keyed or closed meanwhile
      entry.announced = true;
      if (entry.dropped) this.#askKeyframe(entry); // an IDR raced ahead of the announcement
      const limited = this.#limit(entry);
      this.#send({
        type: "subscribed",
        stream: id,
        source,
        ...sub.rendition,
        encoder: sub.session.encoderName,
        format: codec,
        codec: sub.session.codec,
        ...(limited ? { limited: { by: limited, asked } } : {}),
      });
    }, (e) => {
      if (this.#streams.get(id) !== entry) return;
      this.#streams.delete(id);
      sub.close();
      this.#send({ type: "error", stream: id, message: `encoder unavailable: ${e.message ?? e}` });
    });
  }

  #limit(s: Stream): VideoLimit | null {
    return s.ctl.limit ?? (s.sub.limitedByBudget ? "budget" : null);
  }

  /** Moves a stream to its controller's current rendition (after a step down or a probe up). */
  #rekey(s: Stream, why: string): void {
    this.log(
      `video stream ${s.id} (${s.source}, ${s.codec}): ${why} → ${s.ctl.rendition.width}x${s.ctl.rendition.height}@${s.ctl.rendition.fps}`,
    );
    this.#attach(s.id, s, s.ctl);
  }

  #askKeyframe(s: Stream): void {
    // Every frame of an intra-only stream (JPEG) is a keyframe: the next one comes anyway, and
    // the client's allowance is kept for its H.264 streams.
    if (isIntraOnly(s.codec)) {
      s.keyOwed = false;
      return;
    }
    if (this.#keyframes.take()) {
      s.keyOwed = false;
      s.sub.requestKeyframe();
    } else s.keyOwed = true; // asked again on a later tick: one client cannot flood IDRs
  }

  #onFrame(s: Stream, f: EncodedFrame): void {
    if (this.#closed || this.socket.readyState !== WebSocket.OPEN) return;
    if (!s.announced) {
      s.dropped++;
      return;
    }
    if (s.needsKeyframe && !f.keyframe) return;
    const now = performance.now();
    if (
      this.#inFlight.oldestAgeMs(now) > BEHIND_MS ||
      this.socket.bufferedAmount > MAX_BUFFERED_BYTES
    ) {
      this.#behind(s, now);
      return;
    }
    s.needsKeyframe = false;
    s.sent++;
    s.sentTimes.push(now);
    if (s.sentTimes.length > 240) s.sentTimes.splice(0, 120);
    const packed = packVideoFrame({
      keyframe: f.keyframe,
      stream: s.id,
      frame: f.frame,
      captureUs: f.captureUs,
      sentUs: Number(nowUs()),
      width: f.width,
      height: f.height,
      encodeMs: f.convertMs + f.encodeMs,
    }, f.data);
    this.#inFlight.sent(s.id, f.frame, packed.byteLength, now);
    this.socket.send(packed);
  }

  /** The viewer is over its delay bound: skip to a keyframe; if it keeps happening, step down. */
  #behind(s: Stream, now: number): void {
    s.dropped++;
    s.behindDrops++;
    if (!s.needsKeyframe) {
      s.needsKeyframe = true;
      this.#askKeyframe(s);
    }
    const recurring = now - s.lastBehindMs < LINK_TROUBLE_WINDOW_MS;
    s.lastBehindMs = now;
    if (!recurring) return; // one stall (a busy page, a GC) is forgiven
    // A link that is short delivers less than was sent; a page that stalled (a busy main thread,
    // a slow decoder) catches up and acknowledges nearly all of it. Only the first needs a
    // smaller rendition; the second needs fewer frames.
    const delivered = this.#inFlight.deliveryRate(now), sent = this.#inFlight.sendRate(now);
    if (delivered >= sent * LINK_SHORT_SHARE) {
      if (s.ctl.trouble("decoder", now)) this.#rekey(s, "the page acknowledges late");
      return;
    }
    // The link is shared by the client's streams: each gets its share of what it delivers.
    const share = delivered * 8 / 1000 / Math.max(1, this.#streams.size);
    if (s.ctl.trouble("link", now, share)) {
      this.#rekey(s, `link delivers ~${Math.round(share)} kbit/s`);
    }
  }

  #onReport(s: Stream, r: VideoReport): void {
    const now = performance.now();
    if (now - s.attachedMs < WARMUP_MS || !s.announced) return;
    const fps = s.sub.rendition.fps;
    const sentLastSecond = s.sentTimes.filter((t) => now - t <= 1000).length;
    // Short of frames although we sent them, or chunks piling up in its decoder.
    const short = Number(r.fps) < fps * 0.8 && sentLastSecond >= fps * 0.9;
    const piling = Number(r.decodeQueue) >= 3;
    s.badReports = short || piling ? s.badReports + 1 : 0;
    if (s.badReports >= 2 && s.ctl.trouble("decoder", now)) {
      s.badReports = 0;
      this.#rekey(s, `page draws ${r.fps} of ${fps} fps (decode queue ${r.decodeQueue})`);
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const s of [...this.#streams.values()]) {
      if (s.keyOwed) this.#askKeyframe(s);
      const session = s.sub.session;
      if (now - s.attachedMs > WARMUP_MS && session.overloaded && s.ctl.trouble("encoder", now)) {
        this.#rekey(s, `encoder cannot hold ${session.id}`);
      } else if (s.ctl.tick(now)) this.#rekey(s, "probing up");
      else if (
        s.sub.limitedByBudget && s.ctl.level === 0 && now - s.attachedMs > BUDGET_RETRY_MS &&
        this.sessions.canServe(s.source, s.asked, s.codec)
      ) this.#rekey(s, "the encode budget has room again");
    }
  }
}

/** Expected bit rate of a rendition in `codec`: what the link steps of its ladder compare with. */
function kbpsEstimate(codec: VideoCodec): (r: Rendition) => number {
  return codec === "jpeg"
    ? (r) => estimateJpegKbps(r.width, r.height, r.fps)
    : (r) => defaultBitrateKbps(r.width, r.height, r.fps);
}

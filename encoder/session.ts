/**
 * One encode session: one source (a frame ring) encoded at one rendition (width, height, fps) in
 * one codec (H.264 Main, Constrained Baseline or JPEG), shared by every viewer that asks for that
 * rendition in that codec.
 *
 * The loop waits on the ring's futex (a nonblocking FFI call, so the event loop stays free),
 * encodes only the newest frame (never a queue: if encoding falls behind, frames in between are
 * skipped), paces down to the session's fps using the frames' capture times, and hands each
 * access unit to its subscribers synchronously. A viewer that joins gets an IDR; until it has one
 * it receives nothing (every JPEG frame is one: a joiner gets the very next frame). When the
 * engine goes away the session keeps its viewers and reopens the source with backoff, so an
 * engine restart is a gap followed by an IDR, not an error.
 */
import type { EncodedFrame } from "../ffi/encoder.ts";
import { WriterGoneError } from "../ffi/errors.ts";
import { type FrameSource, openFrameSource } from "./frame_source.ts";
import type { VideoCodec } from "../protocol/video.ts";
import type { Rendition } from "../protocol/size_classes.ts";
import { type CodecEncoder, isIntraOnly, openCodecEncoder } from "./codec_encoder.ts";

export interface SessionKey extends Rendition {
  source: string;
  codec: VideoCodec;
}

export type SessionState = "starting" | "running" | "waiting-source" | "stopped";

export interface SessionStats {
  id: string;
  source: string;
  width: number;
  height: number;
  fps: number;
  /** What the session encodes (the subscribe's codec); the codec string is `codecString`. */
  codec: VideoCodec;
  codecString: string;
  state: SessionState;
  encoder: string;
  subscribers: number;
  frames: number;
  keyframes: number;
  bytes: number;
  torn: number;
  encodeMsAvg: number;
  encodeMsLast: number;
  /** Recent encode time (EWMA, ms) as a share of the frame interval; > OVERLOAD_SHARE: too slow. */
  load: number;
  startedAt: number;
}

export interface Subscriber {
  onFrame(frame: EncodedFrame): void;
  onState?(state: SessionState, detail: string): void;
}

export interface SessionOptions {
  /** Source id → current frame-source reference: a ring name or "spout:<sender>"
   * (encoder/frame_source.ts; re-resolved after an engine restart). */
  resolveRing(source: string): string | undefined;
  encoderPreference?: string[];
  bitrateKbps?: number;
  log?: (msg: string) => void;
}

const WAIT_SLICE_MS = 200; // bounds how long stop() waits for the futex wait to return
const REOPEN_BACKOFF_MS = [100, 250, 500, 1000, 2000];
/**
 * At most one IDR per this interval, however many viewers ask: a keyframe costs every viewer of
 * the rendition several times a normal frame's bytes, so one client asking continuously must not
 * turn everyone's stream into keyframes. A joiner waits at most this long for its first picture.
 */
export const MIN_IDR_INTERVAL_MS = 300;
/** Encode time above this share of the frame interval: the session cannot hold its rate. */
export const OVERLOAD_SHARE = 0.9;

/** Id suffix per codec: H.264 Main has none, so ids from before codecs existed stay the same. */
const ID_SUFFIX: Record<VideoCodec, string> = {
  "h264": "",
  "h264-baseline": "/baseline",
  jpeg: "/jpeg",
};

export function sessionId(k: SessionKey): string {
  return `${k.source}@${k.width}x${k.height}@${k.fps}${ID_SUFFIX[k.codec]}`;
}

export class EncodeSession {
  readonly id: string;
  #subs = new Map<Subscriber, { needsKeyframe: boolean }>();
  #encoder?: CodecEncoder;
  #state: SessionState = "starting";
  #detail = "";
  #stopped = false;
  #idrWanted = true;
  #rerouted = false;
  #lastIdrMs = -Infinity;
  #encodeEwmaMs = 0;
  #wake: (() => void) | null = null;
  #done: Promise<void>;
  #ready = Promise.withResolvers<void>();
  #stats = { frames: 0, keyframes: 0, bytes: 0, torn: 0, encodeMsTotal: 0, encodeMsLast: 0 };
  readonly startedAt = Date.now();

  constructor(readonly key: SessionKey, private readonly opts: SessionOptions) {
    this.id = sessionId(key);
    this.#ready.promise.catch(() => {}); // observed through stats/state as well
    this.#done = this.#run();
  }

  /** Resolves once the encoder is open (name and codec known); rejects if it cannot open. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  get state(): SessionState {
    return this.#state;
  }
  get encoderName(): string {
    return this.#encoder?.name ?? "";
  }
  /** The codec string a viewer's decoder is set up with ("avc1.4d401f", "jpeg"); "" until ready. */
  get codec(): string {
    return this.#encoder?.codec ?? "";
  }
  get subscriberCount(): number {
    return this.#subs.size;
  }
  /** The encoder cannot keep this rendition's rate on this machine. */
  get overloaded(): boolean {
    return this.#load() > OVERLOAD_SHARE;
  }

  /** The source may be back (the engine's senders changed): retry opening it now. */
  wake(): void {
    this.#wake?.();
  }

  /**
   * The source id now names another frame source (a venue switched outputs): the session closes
   * its reader and opens the new one at once. Nothing from the new reader goes out before an IDR
   * of it (the interval limit does not apply), so no frame ever references the old source's.
   */
  reroute(): void {
    this.#rerouted = true;
    this.#wake?.();
  }

  /** Adds a viewer; it receives frames from the next IDR on (which this requests). */
  subscribe(sub: Subscriber): () => void {
    this.#subs.set(sub, { needsKeyframe: true });
    this.#idrWanted = true;
    sub.onState?.(this.#state, this.#detail);
    return () => this.#subs.delete(sub);
  }

  /** A viewer lost a frame (decoder gap, skipped for backpressure): it waits for the next IDR. */
  requestKeyframe(sub: Subscriber): void {
    const s = this.#subs.get(sub);
    if (s) s.needsKeyframe = true;
    this.#idrWanted = true;
  }

  /**
   * An IDR soon (within MIN_IDR_INTERVAL_MS) without holding back anyone's deltas: for a WHIP
   * publisher answering the SFU's PLI, whose other viewers keep decoding meanwhile.
   */
  requestIdr(): void {
    this.#idrWanted = true;
  }

  stats(): SessionStats {
    const s = this.#stats;
    return {
      id: this.id,
      ...this.key,
      codecString: this.codec,
      state: this.#state,
      encoder: this.encoderName,
      subscribers: this.#subs.size,
      frames: s.frames,
      keyframes: s.keyframes,
      bytes: s.bytes,
      torn: s.torn,
      encodeMsAvg: s.frames ? s.encodeMsTotal / s.frames : 0,
      encodeMsLast: s.encodeMsLast,
      load: this.#load(),
      startedAt: this.startedAt,
    };
  }

  /** Stops the loop and frees the encoder; resolves when no native call is in flight. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    return this.#done;
  }

  #load(): number {
    return this.#encodeEwmaMs * this.key.fps / 1000;
  }

  /** Waits `ms`, or less when wake() is called. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  #setState(state: SessionState, detail = ""): void {
    if (state === this.#state && detail === this.#detail) return;
    this.#state = state;
    this.#detail = detail;
    for (const sub of this.#subs.keys()) sub.onState?.(state, detail);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    try {
      this.#encoder = await openCodecEncoder({
        ...this.key,
        bitrateKbps: this.opts.bitrateKbps,
        encoderPreference: this.opts.encoderPreference,
      });
      this.#ready.resolve();
      while (!this.#stopped) {
        const ring = this.opts.resolveRing(this.key.source);
        let reader: FrameSource | undefined;
        try {
          if (!ring) throw new Error(`source ${this.key.source} is not available`);
          reader = openFrameSource(ring);
          attempt = 0;
          await this.#pump(reader, this.#encoder);
        } catch (e) {
          const why = e instanceof WriterGoneError ? "engine stopped sending" : String(
            (e as Error).message ?? e,
          );
          this.#setState("waiting-source", why);
          this.opts.log?.(`session ${this.id}: ${why}`);
        } finally {
          reader?.close();
        }
        if (this.#stopped) break;
        if (this.#rerouted) { // a switch, not a failure: reopen at once
          this.#rerouted = false;
          attempt = 0;
          continue;
        }
        await this.#sleep(REOPEN_BACKOFF_MS[Math.min(attempt++, REOPEN_BACKOFF_MS.length - 1)]);
      }
    } catch (e) {
      this.#ready.reject(e);
      this.#setState("stopped", `encoder failed: ${(e as Error).message}`);
      this.opts.log?.(`session ${this.id}: ${(e as Error).message}`);
    } finally {
      this.#encoder?.close();
      this.#setState("stopped", this.#detail);
    }
  }

  async #pump(reader: FrameSource, encoder: CodecEncoder): Promise<void> {
    let last = 0n;
    let lastCaptureUs = 0;
    // Skip source frames that come sooner than ~3/4 of our frame interval: a 60 Hz source feeds
    // a 30 fps session every other frame, with tolerance for jitter in the engine's clock.
    const minGapUs = (1e6 / this.key.fps) * 0.75;
    // Every JPEG frame is a keyframe and costs no more than any other: nothing to ration.
    const intraOnly = isIntraOnly(this.key.codec);
    this.#idrWanted = true; // a new reader (first start or engine restart) starts with an IDR
    // Until this reader's first IDR is out, nothing goes out: a delta would reference pictures
    // of the previous reader (another output after a reroute, the old engine after a restart).
    let mustIdr = true;
    this.#rerouted = false;
    while (!this.#stopped) {
      if (this.#rerouted) return;
      if (!(await reader.wait(last, WAIT_SLICE_MS)) || this.#stopped || this.#rerouted) continue;
      const info = reader.info();
      if (info.frame <= last) continue;
      if (lastCaptureUs && Number(info.captureUs) - lastCaptureUs < minGapUs) {
        last = info.frame;
        continue;
      }
      const now = performance.now();
      const idr = intraOnly || mustIdr ||
        (this.#idrWanted && now - this.#lastIdrMs >= MIN_IDR_INTERVAL_MS);
      if (idr) this.#idrWanted = false;
      const out = await encoder.encodeRing(reader, idr);
      if (!out) { // the slot was overwritten while converting: nothing was encoded
        this.#stats.torn++;
        if (idr) this.#idrWanted = true;
        continue;
      }
      last = BigInt(out.frame);
      lastCaptureUs = out.captureUs;
      if (mustIdr && !out.keyframe) { // an encoder that answered late: drop, ask again
        this.#idrWanted = true;
        continue;
      }
      mustIdr = false;
      if (out.keyframe) this.#lastIdrMs = now;
      this.#account(out);
      if (this.#state !== "running") this.#setState("running");
      this.#deliver(out);
    }
  }

  #account(out: EncodedFrame): void {
    const s = this.#stats;
    s.frames++;
    s.bytes += out.data.byteLength;
    if (out.keyframe) s.keyframes++;
    s.encodeMsLast = out.convertMs + out.encodeMs;
    s.encodeMsTotal += s.encodeMsLast;
    // ~1 s of memory at 30 fps: long enough to ignore one slow frame, short enough to react.
    this.#encodeEwmaMs = this.#encodeEwmaMs
      ? this.#encodeEwmaMs + (s.encodeMsLast - this.#encodeEwmaMs) * 0.05
      : s.encodeMsLast;
  }

  #deliver(out: EncodedFrame): void {
    for (const [sub, st] of this.#subs) {
      if (st.needsKeyframe) {
        if (!out.keyframe) continue;
        st.needsKeyframe = false;
      }
      try {
        sub.onFrame(out);
      } catch (e) {
        this.opts.log?.(`session ${this.id}: subscriber failed: ${(e as Error).message}`);
      }
    }
  }
}

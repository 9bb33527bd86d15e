/**
 * Encoded frames → VideoDecoder → Presenter, tuned for latency, never for completeness:
 *  - `optimizeForLatency: true` (without it the decoder holds one frame back), codec string from
 *    the sender's `subscribed`, Annex-B with no `description`;
 *  - a non-key frame that finds more than MAX_DECODE_QUEUE frames waiting is dropped (the queue
 *    is latency) and an IDR is requested; a keyframe that finds a backlog resets the decoder
 *    first, so the picture jumps to now instead of draining old frames;
 *  - after a drop, a frame-number gap or a decode error nothing but a keyframe is decoded;
 *  - every VideoFrame goes to the Presenter, which closes it.
 */
import type { EncodedFrame, StreamInfo } from "../transport/types.ts";
import type { Presenter } from "./present.ts";
import { nowMs, type TileStats } from "./stats.ts";

/** Frames allowed to wait in the decoder before we start dropping. */
export const MAX_DECODE_QUEUE = 1;
/** While waiting for a keyframe, ask again this often. */
export const KEYFRAME_RETRY_MS = 300;

/**
 * True when engine frame `cur` following `prev` means frames are missing. `stride` is the
 * expected step (source fps / stream fps, ≥ 1); the sender may skip an engine frame now and then
 * when it decimates, so only a step beyond 1.5 strides counts. A step back (engine restart) is a
 * gap too.
 */
export function isGap(prev: number, cur: number, stride: number): boolean {
  const step = (cur - prev) >>> 0; // u32 wrap-around
  if (step === 0 || step > 0x7fffffff) return true;
  return step > Math.max(1, Math.floor(stride * 1.5));
}

interface Meta {
  frame: number;
  captureUs: number;
  receivedMs: number;
}

export class DecodePipeline {
  #decoder: VideoDecoder | null = null;
  #config: VideoDecoderConfig | null = null;
  #waitKey = true;
  #lastFrame = -1;
  #stride = 1;
  #lastKeyRequest = -Infinity;
  #meta = new Map<number, Meta>();
  #closed = false;

  constructor(
    private presenter: Presenter,
    private stats: TileStats,
    private requestKeyframe: () => void,
    private sourceFps: number,
  ) {}

  /** The sender (re)started the stream: configure for its codec and size, then wait for a key. */
  info(i: StreamInfo): void {
    this.stats.encoder = i.encoder;
    this.stats.codec = i.codec;
    this.#stride = Math.max(1, Math.round((this.sourceFps || i.fps) / Math.max(1, i.fps)));
    this.#configure({
      codec: i.codec,
      codedWidth: i.width,
      codedHeight: i.height,
      optimizeForLatency: true,
      hardwareAcceleration: "no-preference",
    });
    this.#waitKey = true;
    this.#lastFrame = -1;
  }

  frame(f: EncodedFrame): void {
    if (this.#closed) return;
    const st = this.stats;
    st.received(f.receivedMs, f.data.byteLength, f.sentUs, f.encodeMs);
    if (!this.#config) return this.#drop(false);
    let dec = this.#decoder;
    if (f.keyframe) {
      if (
        this.#config.codedWidth !== f.width || this.#config.codedHeight !== f.height ||
        !dec || dec.state === "closed"
      ) {
        this.#configure({ ...this.#config, codedWidth: f.width, codedHeight: f.height });
      } else if (dec.decodeQueueSize > MAX_DECODE_QUEUE) {
        this.#configure(this.#config, true); // jump over the backlog
      }
      dec = this.#decoder;
      this.#waitKey = false;
    } else {
      if (this.#waitKey || !dec || dec.state !== "configured") return this.#drop(true);
      if (this.#lastFrame >= 0 && isGap(this.#lastFrame, f.frame, this.#stride)) {
        st.gaps++;
        this.#waitKey = true;
        return this.#drop(true);
      }
      if (dec.decodeQueueSize > MAX_DECODE_QUEUE) {
        this.#waitKey = true;
        return this.#drop(true);
      }
    }
    if (!dec) return;
    this.#lastFrame = f.frame;
    const timestamp = Math.round(f.captureUs);
    if (this.#meta.size > 64) this.#meta.clear(); // outputs that never came (reset, error)
    this.#meta.set(timestamp, { frame: f.frame, captureUs: f.captureUs, receivedMs: f.receivedMs });
    try {
      dec.decode(
        new EncodedVideoChunk({ type: f.keyframe ? "key" : "delta", timestamp, data: f.data }),
      );
    } catch {
      this.#onError();
    }
    st.decodeQueue = dec.decodeQueueSize;
  }

  close(): void {
    this.#closed = true;
    if (this.#decoder && this.#decoder.state !== "closed") this.#decoder.close();
    this.#decoder = null;
    this.#meta.clear();
  }

  #drop(askKey: boolean): void {
    this.stats.droppedBeforeDecode++;
    if (askKey) this.#askKey();
  }

  #askKey(): void {
    const t = performance.now();
    if (t - this.#lastKeyRequest < KEYFRAME_RETRY_MS) return;
    this.#lastKeyRequest = t;
    this.stats.keyframeRequests++;
    this.requestKeyframe();
  }

  #configure(config: VideoDecoderConfig, force = false): void {
    const old = this.#config;
    this.#config = config;
    let dec = this.#decoder;
    if (!dec || dec.state === "closed") {
      dec = this.#decoder = new VideoDecoder({
        output: (frame) => this.#onOutput(frame),
        error: () => this.#onError(),
      });
    } else if (
      !force && dec.state === "configured" && old && old.codec === config.codec &&
      old.codedWidth === config.codedWidth && old.codedHeight === config.codedHeight
    ) {
      return;
    } else {
      dec.reset(); // drops queued work; outputs of dropped chunks never come
      this.#meta.clear();
    }
    dec.configure(config);
  }

  #onOutput(frame: VideoFrame): void {
    const st = this.stats;
    if (this.#closed) {
      frame.close();
      return;
    }
    st.framesDecoded++;
    st.codedWidth = frame.displayWidth;
    st.codedHeight = frame.displayHeight;
    st.decodeQueue = this.#decoder?.decodeQueueSize ?? 0;
    const now = nowMs();
    const m = this.#meta.get(frame.timestamp);
    if (m) {
      this.#meta.delete(frame.timestamp);
      st.decode.push(now - m.receivedMs);
    }
    const newerComing = (this.#decoder?.decodeQueueSize ?? 0) > 0;
    this.presenter.push(frame, {
      captureUs: m?.captureUs ?? frame.timestamp,
      frame: m?.frame ?? -1,
      decodedMs: now,
    }, newerComing);
  }

  #onError(): void {
    // The decoder is closed now; a new one is made at the next keyframe.
    this.stats.decodeErrors++;
    this.#decoder = null;
    this.#meta.clear();
    this.#waitKey = true;
    this.#askKey();
  }
}

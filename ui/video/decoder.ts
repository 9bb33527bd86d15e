/**
 * Encoded frames → VideoDecoder → Presenter, tuned for latency, never for completeness:
 *  - `optimizeForLatency: true` (without it the decoder holds one frame back), codec string from
 *    the sender's `subscribed`, Annex-B with no `description`;
 *  - a backlog is normally decoded through, not dropped: decoding costs 2.5–5 ms a frame here,
 *    so a backlog drains several times faster than it builds, and the Presenter draws only the
 *    newest of the frames that come out. Dropping a delta breaks the reference chain and costs a
 *    keyframe round trip plus a big IDR decode — measured on the real stack, the drop-at-queue>1
 *    rule lost 30–80 frames per 12 s (≈ 51–55 fps drawn). Only a backlog beyond MAX_BACKLOG_MS
 *    or MAX_DECODE_QUEUE chunks (a stalled tab, a starved machine) is skipped: deltas are dropped,
 *    an IDR requested, and a keyframe that finds a backlog resets the decoder first so the
 *    picture jumps to now;
 *  - after a drop, a frame number going backwards or a decode error nothing but a keyframe is
 *    decoded (forward skips of engine frame numbers are normal, see frameStep);
 *  - every VideoFrame goes to the Presenter, which closes it.
 */
import type { EncodedFrame, StreamInfo } from "../transport/types.ts";
import type { Presenter } from "./present.ts";
import { nowMs, type TileStats } from "./stats.ts";
import { type FramePipeline, frameStride, noteStreamInfo, type PipelineDeps } from "./pipeline.ts";

/** Chunks allowed to wait in the decoder before we skip ahead. */
export const MAX_DECODE_QUEUE = 5;
/** Oldest undecoded chunk older than this (ms): the decoder is far behind; skip ahead. */
export const MAX_BACKLOG_MS = 80;
/** While waiting for a keyframe, ask again this often (the first request goes at once). */
export const KEYFRAME_RETRY_MS = 400;

/**
 * How engine frame number `cur` follows `prev` in one stream:
 *  - "next": within the expected stride (source fps / stream fps) and half a stride of jitter;
 *  - "skip": engine frames were skipped. NOT a broken stream: the numbers are the engine's, and
 *    smx skips engine frames whenever its encoder is busy or it decimates; a frame smx drops after
 *    encoding (backpressure) it answers itself with an IDR before sending more. Measured on the
 *    real stack: treating a skip as a loss requested ~1 IDR per second (every one a false alarm)
 *    and cost 3–6 fps. Counted in `gaps` for diagnosis, otherwise ignored;
 *  - "back": the same or an older number without a keyframe — a broken stream; wait for an IDR.
 */
export function frameStep(prev: number, cur: number, stride: number): "next" | "skip" | "back" {
  const step = (cur - prev) >>> 0; // u32 wrap-around
  if (step === 0 || step > 0x7fffffff) return "back";
  return step > Math.max(1, Math.floor(stride * 1.5)) ? "skip" : "next";
}

interface Meta {
  frame: number;
  captureUs: number;
  receivedMs: number;
}

export class DecodePipeline implements FramePipeline {
  #decoder: VideoDecoder | null = null;
  #config: VideoDecoderConfig | null = null;
  #waitKey = true;
  #lastFrame = -1;
  #stride = 1;
  /** When the outstanding keyframe request went out (null: none outstanding). */
  #keyRequestedAt: number | null = null;
  #meta = new Map<number, Meta>();
  #closed = false;

  private presenter: Presenter;
  private stats: TileStats;
  private requestKeyframe: () => void;
  private sourceFps: number;

  constructor(deps: PipelineDeps) {
    this.presenter = deps.presenter;
    this.stats = deps.stats;
    this.requestKeyframe = deps.requestKeyframe;
    this.sourceFps = deps.sourceFps;
    this.stats.path = "webcodecs";
  }

  /** The sender (re)started the stream: configure for its codec and size, then wait for a key. */
  info(i: StreamInfo): void {
    noteStreamInfo(this.stats, i);
    this.#stride = frameStride(this.sourceFps, i.fps);
    this.#configure({
      codec: i.codec,
      codedWidth: i.width,
      codedHeight: i.height,
      optimizeForLatency: true,
      hardwareAcceleration: "no-preference",
    });
    this.#waitKey = true;
    this.#keyRequestedAt = null; // the sender starts a new subscription with a keyframe
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
      } else if (this.#behind(dec, f.receivedMs)) {
        this.#configure(this.#config, true); // jump over the backlog
      }
      dec = this.#decoder;
      this.#waitKey = false;
      this.#keyRequestedAt = null;
    } else {
      if (this.#waitKey || !dec || dec.state !== "configured") return this.#drop(true);
      const step = this.#lastFrame < 0 ? "next" : frameStep(this.#lastFrame, f.frame, this.#stride);
      if (step === "skip") st.gaps++;
      else if (step === "back") {
        this.#waitKey = true;
        return this.#drop(true);
      }
      if (this.#behind(dec, f.receivedMs)) {
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

  /** The decoder is too far behind to keep feeding it deltas. */
  #behind(dec: VideoDecoder, nowMs: number): boolean {
    if (dec.decodeQueueSize > MAX_DECODE_QUEUE) return true;
    const oldest = this.#meta.values().next();
    return !oldest.done && nowMs - oldest.value.receivedMs > MAX_BACKLOG_MS;
  }

  #drop(askKey: boolean): void {
    this.stats.droppedBeforeDecode++;
    if (askKey) this.#askKey();
  }

  #askKey(): void {
    const t = performance.now();
    const at = this.#keyRequestedAt;
    if (at !== null && t - at < KEYFRAME_RETRY_MS) return; // one is on its way
    this.#keyRequestedAt = t;
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
      // Outputs come in decode order (no B-frames): anything older never will.
      for (const k of this.#meta.keys()) {
        this.#meta.delete(k);
        if (k === frame.timestamp) break;
      }
      st.decode.push(now - m.receivedMs);
    }
    // Chunks still in the decoder (outputs come in order, older entries were removed above).
    const newerComing = this.#meta.size > 0 || (this.#decoder?.decodeQueueSize ?? 0) > 0;
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

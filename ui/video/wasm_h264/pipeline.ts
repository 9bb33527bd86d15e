/**
 * The tile pipeline of pages without WebCodecs that can run WebAssembly in a worker: Baseline
 * access units → WasmH264Decoder → Presenter. The decoder keeps latency before completeness (one
 * unit decoding, one waiting, drop-to-keyframe beyond); this file adds what the WebCodecs
 * pipeline does around it: frame-number checks, the tile's stats, and the capture stamp of
 * every picture for glass-to-glass.
 */
import type { EncodedFrame, StreamInfo } from "../../transport/types.ts";
import { frameStep } from "../decoder.ts";
import { type FramePipeline, frameStride, noteStreamInfo, type PipelineDeps } from "../pipeline.ts";
import { nowMs } from "../stats.ts";
import { WasmH264Decoder } from "./decoder.ts";

interface Meta {
  frame: number;
  captureUs: number;
  receivedMs: number;
}

export class WasmPipeline implements FramePipeline {
  #dec: WasmH264Decoder;
  #meta = new Map<number, Meta>();
  #stride = 1;
  #lastFrame = -1;
  #closed = false;

  constructor(private deps: PipelineDeps) {
    deps.stats.path = "wasm";
    this.#dec = new WasmH264Decoder({
      output: (frame) => this.#onOutput(frame),
      requestKeyframe: () => {
        deps.stats.keyframeRequests++;
        deps.requestKeyframe();
      },
      error: (e, { fatal, unsupported }) => {
        deps.stats.decodeErrors++;
        if (fatal) deps.failed(e.message);
        else if (unsupported) deps.failed(`not a Baseline stream: ${e.message}`);
      },
    });
  }

  info(i: StreamInfo): void {
    noteStreamInfo(this.deps.stats, i);
    this.#stride = frameStride(this.deps.sourceFps, i.fps);
    this.#lastFrame = -1;
    this.#meta.clear();
    this.#dec.reset(); // the new subscription starts with a keyframe
  }

  frame(f: EncodedFrame): void {
    if (this.#closed) return;
    const st = this.deps.stats;
    st.received(f.receivedMs, f.data.byteLength, f.sentUs, f.encodeMs);
    if (!f.keyframe && this.#lastFrame >= 0) {
      const step = frameStep(this.#lastFrame, f.frame, this.#stride);
      if (step === "skip") st.gaps++;
      else if (step === "back") { // a broken stream: nothing decodes until a keyframe
        st.droppedBeforeDecode++;
        this.#dec.reset();
        st.keyframeRequests++;
        this.deps.requestKeyframe();
        return;
      }
    }
    const timestamp = Math.round(f.captureUs);
    const r = this.#dec.decode({ data: f.data, keyframe: f.keyframe, timestamp });
    if (r === "dropped") {
      st.droppedBeforeDecode++;
      return;
    }
    this.#lastFrame = f.frame;
    if (this.#meta.size > 64) this.#meta.clear(); // outputs that never came (reset, error)
    this.#meta.set(timestamp, { frame: f.frame, captureUs: f.captureUs, receivedMs: f.receivedMs });
    st.decodeQueue = this.#dec.decodeQueueSize;
  }

  close(): void {
    this.#closed = true;
    this.#dec.close();
    this.#meta.clear();
  }

  #onOutput(frame: VideoFrame): void {
    if (this.#closed) {
      frame.close();
      return;
    }
    const st = this.deps.stats;
    st.framesDecoded++;
    st.codedWidth = frame.displayWidth;
    st.codedHeight = frame.displayHeight;
    st.decodeQueue = this.#dec.decodeQueueSize;
    const now = nowMs();
    const m = this.#meta.get(frame.timestamp);
    if (m) {
      for (const k of this.#meta.keys()) { // decode order: older entries never come
        this.#meta.delete(k);
        if (k === frame.timestamp) break;
      }
      st.decode.push(now - m.receivedMs);
    }
    this.deps.presenter.push(frame, {
      captureUs: m?.captureUs ?? frame.timestamp,
      frame: m?.frame ?? -1,
      decodedMs: now,
    }, this.#dec.decodeQueueSize > 0);
  }
}

/** Messages between the WAN page and its receive worker (receive_transform_worker.ts). */
import type { FrameTiming } from "../../../protocol/frame_sei.ts";
import type { StreamFormat } from "./encoded.ts";

/** Built by ui/build.ts as its own self-contained file. */
export const WAN_RECEIVE_WORKER_URL = "/assets/wan-receive-worker.js";

/** `new RTCRtpScriptTransform(worker, options)`: which feed this receiver is. */
export interface TransformOptions {
  feed: number;
  /**
   * Also hand every frame on to WebRTC's own decoder (its picture is never shown). Why: a
   * receiver whose decoder gets no frames asks the sender for a keyframe every 200 ms to 3 s
   * ("no decodable frame"), which the SFU forwards as PLIs, so swallowing frames would fill the
   * stream with IDRs. The cost is a second decode off the main thread.
   */
  passThrough: boolean;
}

export type ToWorker =
  /** The createEncodedStreams fallback (browsers without RTCRtpScriptTransform). */
  | {
    type: "streams";
    options: TransformOptions;
    readable: ReadableStream;
    writable: WritableStream;
  }
  | { type: "close"; feed: number };

export interface WorkerFrame {
  type: "frame";
  feed: number;
  data: ArrayBuffer;
  keyframe: boolean;
  format: StreamFormat | null;
  timing: FrameTiming | null;
  /** Arrival in the worker, ms since the Unix epoch. */
  atMs: number;
}

export type FromWorker =
  | WorkerFrame
  | { type: "error"; feed: number; message: string }
  /** The worker took a receiver's frames over (diagnostics). */
  | { type: "started"; feed: number; via: "script-transform" | "encoded-streams" };

/** Messages between WasmH264Decoder (decoder.ts, page) and its worker (worker.ts). */

/** Where the UI bundle serves the worker (ui/build.ts entry "wasm-h264-worker"). */
export const WASM_H264_WORKER_URL = "/assets/wasm-h264-worker.js";

export type ToWorker =
  /** One Annex-B access unit; `data` is transferred. Every decode gets exactly one answer. */
  | { type: "decode"; data: ArrayBuffer; keyframe: boolean; timestamp: number }
  /** Forget the reference chain: the next keyframe starts a fresh decoder. */
  | { type: "reset" }
  | { type: "close" };

export type FromWorker =
  /** The WASM module is compiled and instantiated. */
  | { type: "ready" }
  /** The module could not be loaded (CSP without 'wasm-unsafe-eval', no WebAssembly…). */
  | { type: "failed"; message: string }
  /** A decoded picture: I420, `codedWidth` x `codedHeight` (whole macroblocks), transferred. */
  | {
    type: "frame";
    timestamp: number;
    buffer: ArrayBuffer;
    codedWidth: number;
    codedHeight: number;
    visible: { x: number; y: number; width: number; height: number };
    /** h264bsd's decode of the access unit, and the copy of the picture out of WASM memory. */
    decodeMs: number;
    copyMs: number;
  }
  /** The access unit produced no picture (parameter sets only). */
  | { type: "none"; timestamp: number; decodeMs: number }
  /** The access unit could not be decoded; the worker waits for a keyframe. */
  | { type: "error"; timestamp: number; message: string; unsupported: boolean };

/**
 * H.264 decoding without WebCodecs: tinyh264 (h264bsd in WebAssembly) in a worker, for pages that
 * are not a secure context (a LAN address over plain HTTP), where Chromium and Firefox hide
 * VideoDecoder but still offer `VideoFrame`. Baseline streams only (no CABAC): the sender must
 * encode the rendition with `H264Encoder.open({ …, profile: "baseline" })`.
 *
 *   const dec = new WasmH264Decoder({
 *     output: (frame, info) => presenter.push(frame, …), // a VideoFrame (I420); the callee closes it
 *     requestKeyframe: () => socket.requestKeyframe(),
 *     error: (e, fatal) => …, // fatal: the worker or its WASM could not start
 *   });
 *   await dec.ready;            // rejects when the worker or WASM cannot start (e.g. the CSP)
 *   dec.decode({ data, keyframe, timestamp });  // Annex-B access unit, timestamp in µs
 *
 * Latency before completeness, like ui/video/decoder.ts:
 *  - one access unit decodes in the worker while at most `maxPending` (default 1) waits here;
 *  - a delta that finds the waiting slot full cannot be dropped alone (every later delta refers
 *    to it): it is dropped with every delta after it until the next keyframe, and a keyframe is
 *    requested (again every KEYFRAME_RETRY_MS while none comes);
 *  - a keyframe always gets in (it replaces a waiting delta: nothing after it needs that one);
 *  - nothing is decoded before the first keyframe, after a drop, or after a decode error.
 *
 * Every decoded picture comes back as `new VideoFrame(buffer, { format: "I420", … })` built on
 * the page from the worker's transferred buffer (moved again into the VideoFrame where the
 * browser supports `transfer`), with `visibleRect` from the SPS cropping (640x360 decodes as
 * 640x368). 2D `drawImage(frame)` then converts YUV → RGB on the browser's fast path.
 *
 * CSP: the worker comes from 'self', but compiling WebAssembly needs `'wasm-unsafe-eval'`; with
 * `default-src 'self'` alone `ready` rejects with a CompileError (Chromium and Firefox). smx's
 * policy (server/http/security_headers.ts) says `script-src 'self' 'wasm-unsafe-eval'`, which
 * allows no JS eval; the worker script's own response must carry it too (a worker's CSP is its
 * response's). The WASM is inlined in the worker, so no .wasm asset and no connect-src change.
 */
import { KEYFRAME_RETRY_MS } from "../decoder.ts";
import { type FromWorker, type ToWorker, WASM_H264_WORKER_URL } from "./protocol.ts";
import { codecIsBaseline } from "./sps.ts";

export { codecIsBaseline, WASM_H264_WORKER_URL };

export interface WasmChunk {
  /** One Annex-B access unit (an IDR with SPS/PPS in front). Copied; the caller keeps it. */
  data: Uint8Array;
  keyframe: boolean;
  /** µs; becomes the VideoFrame's timestamp. */
  timestamp: number;
}

export interface WasmFrameInfo {
  /** h264bsd's time for this access unit in the worker, and the picture copy out of WASM. */
  decodeMs: number;
  copyMs: number;
  /** From decode() to the VideoFrame on the page (waiting slot + worker + messages). */
  totalMs: number;
  codedWidth: number;
  codedHeight: number;
}

export interface WasmH264DecoderInit {
  /** Each decoded picture, in decode order; the callee owns (and must close) the frame. */
  output(frame: VideoFrame, info: WasmFrameInfo): void;
  /** The sender should make the next frame an IDR. Rate-limited here. */
  requestKeyframe(): void;
  /** Decode errors (not fatal: decoding resumes at the next keyframe) and fatal ones (the worker
   * or the WASM module failed; `ready` rejected too). `unsupported`: not a Baseline stream. */
  error?(e: Error, info: { fatal: boolean; unsupported: boolean }): void;
  /** Default WASM_H264_WORKER_URL ("/assets/wasm-h264-worker.js"). */
  workerUrl?: string | URL;
  /** Access units allowed to wait while one decodes (default 1). */
  maxPending?: number;
}

export interface WasmDecoderStats {
  submitted: number;
  decoded: number;
  /** Access units never decoded: waiting for a keyframe, or behind. */
  dropped: number;
  keyframeRequests: number;
  errors: number;
}

type Sent = { timestamp: number; at: number };

export class WasmH264Decoder {
  /** Whether tinyh264 can decode this WebCodecs codec string (Baseline-compatible). */
  static isConfigSupported(codec: string): boolean {
    return codecIsBaseline(codec);
  }

  /** Resolves when the WASM module is instantiated; rejects when it cannot be. */
  readonly ready: Promise<void>;
  readonly stats: WasmDecoderStats = {
    submitted: 0,
    decoded: 0,
    dropped: 0,
    keyframeRequests: 0,
    errors: 0,
  };
  #worker: Worker;
  #init: WasmH264DecoderInit;
  #maxPending: number;
  #inFlight: Sent | null = null;
  #pending: { chunk: WasmChunk; data: ArrayBuffer; at: number }[] = [];
  #waitKey = true;
  #keyRequestedAt: number | null = null;
  #state: "starting" | "ready" | "closed" = "starting";

  constructor(init: WasmH264DecoderInit) {
    this.#init = init;
    this.#maxPending = Math.max(0, init.maxPending ?? 1);
    this.#worker = new Worker(init.workerUrl ?? WASM_H264_WORKER_URL, { type: "module" });
    let settle!: (err?: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      settle = (err) => err ? reject(err) : resolve();
    });
    this.ready.catch(() => {}); // observed through error() too
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(e.data, settle);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#fatal(new Error(`WASM H.264 worker failed: ${e.message || "could not load"}`), settle);
    };
  }

  get state(): "starting" | "ready" | "closed" {
    return this.#state;
  }

  /** Access units in the worker plus those waiting here. */
  get decodeQueueSize(): number {
    return (this.#inFlight ? 1 : 0) + this.#pending.length;
  }

  /**
   * Queues one access unit. "decoding": sent to the worker; "waiting": in the waiting slot;
   * "dropped": not decoded (no keyframe yet, behind, or closed).
   */
  decode(chunk: WasmChunk): "decoding" | "waiting" | "dropped" {
    if (this.#state === "closed") return "dropped";
    this.stats.submitted++;
    if (chunk.keyframe) {
      this.#waitKey = false;
      this.#keyRequestedAt = null;
      this.stats.dropped += this.#pending.length; // nothing after a keyframe needs them
      this.#pending = [];
    } else if (this.#waitKey) {
      return this.#drop(1);
    } else if (
      this.#pending.length >= this.#maxPending && (this.#inFlight || this.#state !== "ready")
    ) {
      this.#waitKey = true; // behind: this delta goes, and every one after it
      return this.#drop(1);
    }
    // A copy the worker may own (the caller's buffer may be a view into a bigger message).
    const data = chunk.data.slice().buffer;
    const at = performance.now();
    if (!this.#inFlight && this.#state === "ready" && this.#pending.length === 0) {
      this.#send(chunk, data, at);
      return "decoding";
    }
    this.#pending.push({ chunk, data, at });
    return "waiting";
  }

  /** Forgets waiting access units and the reference chain; decoding resumes at a keyframe
   * (none is requested: call after a new subscription whose first frame is one). */
  reset(): void {
    if (this.#state === "closed") return;
    this.stats.dropped += this.#pending.length;
    this.#pending = [];
    this.#waitKey = true;
    this.#keyRequestedAt = null;
    this.#post({ type: "reset" });
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#pending = [];
    this.#post({ type: "close" });
    this.#worker.terminate();
  }

  #send(chunk: WasmChunk, data: ArrayBuffer, at: number): void {
    this.#inFlight = { timestamp: chunk.timestamp, at };
    this.#post({ type: "decode", data, keyframe: chunk.keyframe, timestamp: chunk.timestamp }, [
      data,
    ]);
  }

  #post(m: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(m, transfer);
  }

  #next(): void {
    const p = this.#pending.shift();
    if (p) this.#send(p.chunk, p.data, p.at);
  }

  #drop(n: number): "dropped" {
    this.stats.dropped += n;
    const t = performance.now();
    const at = this.#keyRequestedAt;
    if (at === null || t - at >= KEYFRAME_RETRY_MS) {
      this.#keyRequestedAt = t;
      this.stats.keyframeRequests++;
      this.#init.requestKeyframe();
    }
    return "dropped";
  }

  #onMessage(m: FromWorker, settle: (err?: Error) => void): void {
    if (this.#state === "closed") return;
    switch (m.type) {
      case "ready":
        this.#state = "ready";
        settle();
        this.#next();
        return;
      case "failed":
        return this.#fatal(new Error(`WASM H.264 decoder could not start: ${m.message}`), settle);
      case "frame": {
        const sent = this.#inFlight;
        this.#inFlight = null;
        this.#next(); // keep the worker busy before building the frame
        this.stats.decoded++;
        // `transfer` (Chromium 120+) moves the buffer in; where it is unknown it is ignored
        // and the browser copies. (Not in TypeScript's DOM types yet.)
        const init: VideoFrameBufferInit & { transfer: ArrayBuffer[] } = {
          format: "I420",
          codedWidth: m.codedWidth,
          codedHeight: m.codedHeight,
          timestamp: m.timestamp,
          transfer: [m.buffer],
        };
        const v = m.visible;
        if (v.width !== m.codedWidth || v.height !== m.codedHeight || v.x || v.y) {
          init.visibleRect = v;
        }
        let frame: VideoFrame;
        try {
          frame = new VideoFrame(m.buffer, init);
        } catch (e) {
          this.stats.errors++;
          this.#init.error?.(e as Error, { fatal: false, unsupported: false });
          return;
        }
        this.#init.output(frame, {
          decodeMs: m.decodeMs,
          copyMs: m.copyMs,
          totalMs: sent ? performance.now() - sent.at : NaN,
          codedWidth: m.codedWidth,
          codedHeight: m.codedHeight,
        });
        return;
      }
      case "none":
        this.#inFlight = null;
        this.#next();
        return;
      case "error":
        this.#inFlight = null;
        this.stats.errors++;
        // The chain is broken: what waits here refers to the lost picture.
        this.stats.dropped += this.#pending.filter((p) => !p.chunk.keyframe).length;
        this.#pending = this.#pending.filter((p) => p.chunk.keyframe);
        if (this.#pending.length === 0) {
          this.#waitKey = true;
          if (!m.unsupported) this.#drop(0); // asks for a keyframe (another one will not help)
        }
        this.#next();
        this.#init.error?.(new Error(m.message), { fatal: false, unsupported: m.unsupported });
        return;
    }
  }

  #fatal(err: Error, settle: (err?: Error) => void): void {
    if (this.#state === "closed") return;
    this.close();
    this.stats.errors++;
    settle(err);
    this.#init.error?.(err, { fatal: true, unsupported: false });
  }
}

/**
 * H.264 encoder sessions (ffi/native/encoder.c): BGRA/RGBA frames in, Annex-B access units out.
 * libavcodec with h264_nvenc preferred and libx264 as the fallback; see ffi/README.md for the
 * settings and why.
 *
 * Rules the class enforces so native memory is never misused:
 * - calls on one encoder run one at a time (each waits for the previous one);
 * - a pixel buffer handed to `encodeRgba` is read on a worker thread: do not write to it until
 *   the returned promise settles;
 * - `close()` marks the encoder closed at once and frees it when the call in flight (if any)
 *   has finished; later calls reject with ClosedError.
 */
import { native } from "./lib.ts";
import {
  ClosedError,
  cString,
  errorFor,
  InvalidArgumentError,
  SmxNativeError,
  Status,
  toCString,
} from "./errors.ts";

export interface EncoderOptions {
  /** Output size (even, 16..4096, at most 4096x2304 worth of macroblocks). */
  width: number;
  height: number;
  fps: number;
  /** Default: defaultBitrateKbps(width, height, fps). */
  bitrateKbps?: number;
  /** libavcodec encoder names in order of preference; default ["h264_nvenc", "libx264"]
   * (or the SMX_ENCODERS environment variable, a comma list). */
  preference?: string[];
  /** H.264 profile, default "main" (CABAC; codec "avc1.4d40xx"). "baseline" is Constrained
   * Baseline (CAVLC, no 8x8 transform; codec "avc1.42c0xx"), for decoders without CABAC such as
   * the WASM decoder of pages that are not a secure context (ui/video/wasm_h264/). */
  profile?: H264Profile;
}

export type H264Profile = "main" | "baseline";
/** smx_h264_profile (native/encoder_options.h). */
const PROFILE: Record<H264Profile, number> = { main: 0, baseline: 1 };

export interface EncodedFrame {
  /** Annex-B access unit (a copy; an IDR carries SPS and PPS in front). */
  data: Uint8Array;
  keyframe: boolean;
  /** Source frame number (ring) or the caller's / a running counter. */
  frame: number;
  /** Capture time, µs since the Unix epoch. */
  captureUs: number;
  /** Colour conversion + scaling, measured in C. */
  convertMs: number;
  /** libavcodec send + receive, measured in C. */
  encodeMs: number;
  inWidth: number;
  inHeight: number;
  width: number;
  height: number;
}

export interface RgbaInput {
  /** Bytes per row (default width * 4). */
  stride?: number;
  /** Default "bgra". */
  format?: "bgra" | "rgba";
  /** Default: a counter starting at 1. */
  frame?: number;
  /** Default: now. */
  captureUs?: number;
  forceIdr?: boolean;
}

/** A frame ring reader (ffi/ring.ts FrameRingReader fits): its native handle, and optionally a
 * way to run a call while nothing else uses that handle. */
export interface RingSource {
  readonly pointer: Deno.PointerObject;
  exclusive?<T>(fn: (pointer: Deno.PointerObject) => Promise<T>): Promise<T>;
}

const FORMAT = { bgra: 1, rgba: 2 } as const;
const INFO_BYTES = 64; // smx_packet_info
const ERR_BYTES = 2048;

/**
 * A bitrate that looks clean for rendered content on a LAN: 0.1 bit per pixel at 30 fps,
 * growing with fps^0.75 rather than linearly (at higher rates consecutive frames are more alike).
 * 1280x720@60 → 4.6 Mbps, 1920x1080@60 → 10.5 Mbps, 640x360@30 → 0.7 Mbps.
 */
export function defaultBitrateKbps(width: number, height: number, fps: number): number {
  const kbps = (width * height * 0.1 * 30 * Math.pow(Math.max(fps, 1) / 30, 0.75)) / 1000;
  return Math.round(Math.min(240_000, Math.max(300, kbps)));
}

function requireUint(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new InvalidArgumentError(
      Status.INVALID_ARG,
      `${name} must be a non-negative integer, got ${String(v)}`,
    );
  }
  return v;
}

function closedError(): ClosedError {
  return new ClosedError(Status.CLOSED, "encoder is closed");
}

export class H264Encoder implements Disposable {
  #handle: Deno.PointerObject | null;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;
  #codec: string;
  #nextFrame = 1;
  readonly #info = new Uint8Array(INFO_BYTES);
  /** libavcodec encoder in use: "h264_nvenc" or "libx264". */
  readonly name: string;
  /** Why preferred encoders were passed over ("h264_nvenc: NVIDIA driver not installed …"). */
  readonly skipped: string;

  /** The H.264 profile the session was opened with. */
  readonly profile: H264Profile;

  private constructor(handle: Deno.PointerObject, profile: H264Profile) {
    const n = native();
    this.#handle = handle;
    this.profile = profile;
    this.name = cString(n.smx_encoder_name(handle));
    this.skipped = cString(n.smx_encoder_skipped(handle));
    this.#codec = cString(n.smx_encoder_codec(handle));
  }

  /** Opens a session; throws InvalidArgumentError or EncoderError (with every skip reason). */
  static async open(opts: EncoderOptions): Promise<H264Encoder> {
    const width = requireUint("width", opts.width);
    const height = requireUint("height", opts.height);
    const fps = requireUint("fps", opts.fps);
    const kbps = requireUint(
      "bitrateKbps",
      opts.bitrateKbps ?? defaultBitrateKbps(width, height, fps),
    );
    let preference: Uint8Array<ArrayBuffer> | null = null;
    if (opts.preference?.length) {
      const bad = opts.preference.find((p) => typeof p !== "string" || !/^[\w.-]+$/.test(p));
      if (bad !== undefined) {
        throw new InvalidArgumentError(
          Status.INVALID_ARG,
          `encoder name ${JSON.stringify(bad)} in preference is not a libavcodec encoder name`,
        );
      }
      preference = toCString(opts.preference.join(","));
    }
    const profile = opts.profile ?? "main";
    if (!Object.hasOwn(PROFILE, profile)) {
      throw new InvalidArgumentError(
        Status.INVALID_ARG,
        `profile must be "main" or "baseline", got ${JSON.stringify(profile)}`,
      );
    }
    const err = new Uint8Array(ERR_BYTES);
    const status = new Int32Array(1);
    const handle = await native().smx_encoder_open_profile(
      preference,
      width,
      height,
      fps,
      kbps,
      PROFILE[profile],
      err,
      err.length,
      status,
    );
    if (handle === null) {
      const end = err.indexOf(0);
      const msg = new TextDecoder().decode(err.subarray(0, end < 0 ? err.length : end));
      throw errorFor(status[0] || Status.ENCODER, msg);
    }
    return new H264Encoder(handle, profile);
  }

  /** WebCodecs codec string from the SPS the encoder actually writes, e.g. "avc1.4d401f" (Main)
   * or "avc1.42c01f" (Constrained Baseline). */
  get codec(): string {
    return this.#codec;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Encodes the newest frame of a ring reader (zero-copy from shared memory). Resolves null when
   * the ring has no frame yet or the frame was overwritten while it was converted (nothing was
   * encoded; a requested IDR carries over to the retry).
   */
  encodeRing(reader: RingSource, forceIdr = false): Promise<EncodedFrame | null> {
    return this.#run(async (h) => {
      const call = (ring: Deno.PointerObject) =>
        native().smx_encoder_encode_ring(h, ring, forceIdr ? 1 : 0);
      // A FrameRingReader must not run its own wait/copy on another thread meanwhile.
      const r = reader.exclusive ? await reader.exclusive(call) : await call(reader.pointer);
      if (r === Status.TORN || r === Status.AGAIN) return null;
      if (r < 0) throw this.#error(h, r);
      return this.#collect(h);
    });
  }

  /** Encodes a caller's BGRA/RGBA picture of any size (scaled to the session size). */
  encodeRgba(
    pixels: Uint8Array,
    width: number,
    height: number,
    o: RgbaInput = {},
  ): Promise<EncodedFrame> {
    try {
      requireUint("width", width);
      requireUint("height", height);
      const stride = requireUint("stride", o.stride ?? width * 4);
      const format = FORMAT[o.format ?? "bgra"];
      if (!format) {
        throw new InvalidArgumentError(Status.INVALID_ARG, `format must be "bgra" or "rgba"`);
      }
      if (!(pixels instanceof Uint8Array)) {
        throw new InvalidArgumentError(Status.INVALID_ARG, "pixels must be a Uint8Array");
      }
      const frame = o.frame ?? this.#nextFrame;
      this.#nextFrame = frame + 1;
      const captureUs = Math.round(o.captureUs ?? Number(native().smx_now_us()));
      return this.#run(async (h) => {
        const r = await native().smx_encoder_encode_rgba(
          h,
          pixels as Uint8Array<ArrayBuffer>,
          BigInt(pixels.byteLength),
          width,
          height,
          stride,
          format,
          BigInt(frame),
          BigInt(captureUs),
          o.forceIdr ? 1 : 0,
        );
        if (r < 0) throw this.#error(h, r);
        return this.#collect(h);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The next encoded frame will be an IDR (with SPS/PPS). */
  requestIdr(): void {
    this.#sync((h) => native().smx_encoder_request_idr(h));
  }

  /** Takes effect at the next frame, in the same session (no IDR). */
  setBitrate(kbps: number): void {
    const v = requireUint("kbps", Math.round(kbps));
    this.#sync((h) => native().smx_encoder_set_bitrate(h, v));
  }

  /** New frame rate for rate control (the per-frame bit budget), in the same session. */
  setFps(fps: number): void {
    const v = requireUint("fps", Math.round(fps));
    this.#sync((h) => native().smx_encoder_set_fps(h, v));
  }

  /** Idempotent. Frees at once when idle, else right after the call in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const free = () => {
      if (this.#handle) native().smx_encoder_close(this.#handle);
      this.#handle = null;
    };
    if (this.#pending === 0) free();
    else this.#queue.then(free);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Runs `fn` after every earlier call on this encoder has settled. */
  #run<T>(fn: (h: Deno.PointerObject) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    this.#pending++;
    const p = this.#queue.then(() => {
      if (!this.#handle || this.#closed) throw closedError();
      return fn(this.#handle);
    }).finally(() => this.#pending--);
    this.#queue = p.catch(() => {});
    return p;
  }

  #sync(call: (h: Deno.PointerObject) => number): void {
    if (this.#closed || !this.#handle) throw closedError();
    const r = call(this.#handle);
    if (r < 0) throw this.#error(this.#handle, r);
  }

  #error(h: Deno.PointerObject, code: number): SmxNativeError {
    return errorFor(code, cString(native().smx_encoder_error(h)));
  }

  #collect(h: Deno.PointerObject): EncodedFrame {
    const n = native();
    const st = n.smx_encoder_packet_info(h, this.#info);
    if (st < 0) throw this.#error(h, st);
    const v = new DataView(this.#info.buffer);
    const size = v.getUint32(0, true);
    const keyframe = v.getUint32(4, true) !== 0;
    const data = new Uint8Array(size);
    const ptr = n.smx_encoder_packet_data(h);
    if (size > 0 && ptr) new Deno.UnsafePointerView(ptr).copyInto(data);
    if (keyframe) this.#codec = cString(n.smx_encoder_codec(h));
    return {
      data,
      keyframe,
      frame: Number(v.getBigUint64(8, true)),
      captureUs: Number(v.getBigInt64(16, true)),
      convertMs: v.getFloat64(24, true),
      encodeMs: v.getFloat64(32, true),
      inWidth: v.getUint32(40, true),
      inHeight: v.getUint32(44, true),
      width: v.getUint32(48, true),
      height: v.getUint32(52, true),
    };
  }
}

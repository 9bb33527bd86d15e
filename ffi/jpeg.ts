/**
 * JPEG encoder sessions (ffi/native/jpeg.c): BGRA/RGBA frames in, one standalone baseline JPEG
 * per frame out (4:2:0, full-range BT.601 JFIF), scaled to the session size with libyuv and
 * compressed with libjpeg-turbo. For pages without WebCodecs (a LAN address over plain HTTP):
 * `createImageBitmap` decodes JPEG in any context, and every frame is a keyframe.
 *
 * The same rules as H264Encoder (ffi/encoder.ts): calls on one encoder run one at a time; a
 * buffer handed to `encodeRgba` must not be written until the promise settles; `close()` marks the
 * encoder closed at once and frees it after the call in flight.
 */
import { lastError, native } from "./lib.ts";
import {
  ClosedError,
  cString,
  errorFor,
  InvalidArgumentError,
  SmxNativeError,
  Status,
} from "./errors.ts";
import type { RingSource } from "./encoder.ts";

/**
 * Default quality (libjpeg's 1..100 scale), chosen by measurement (scripts/bench_jpeg.ts on the
 * bench scene at 720p, figures in ffi/README.md): the lowest quality whose picture matches what
 * the H.264 path shows at its default bitrate (x264 4.6 Mbit/s at 720p60: PSNR 34.1 dB, SSIM
 * 0.969; q80: 35.4 dB, 0.967, 0.50 bit/px). q75 saves 12 % of the bytes for visibly softer fine
 * detail; q85 costs 10 % more for +0.6 dB, q90 37 % more for +1.1 dB.
 */
export const DEFAULT_JPEG_QUALITY = 80;

export interface JpegOptions {
  /** Output size (even, 16..8192). */
  width: number;
  height: number;
  /** 1..100, default DEFAULT_JPEG_QUALITY. */
  quality?: number;
}

export interface JpegFrame {
  /** One complete JPEG file (a copy). */
  data: Uint8Array;
  /** Every JPEG frame stands alone. */
  keyframe: true;
  /** The quality it was compressed at. */
  quality: number;
  /** Source frame number (ring) or the caller's / a running counter. */
  frame: number;
  /** Capture time, µs since the Unix epoch. */
  captureUs: number;
  /** Colour conversion + scaling, measured in C. */
  convertMs: number;
  /** TurboJPEG compression, measured in C. */
  encodeMs: number;
  inWidth: number;
  inHeight: number;
  width: number;
  height: number;
}

export interface JpegRgbaInput {
  /** Bytes per row (default width * 4). */
  stride?: number;
  /** Default "bgra". */
  format?: "bgra" | "rgba";
  /** Default: a counter starting at 1. */
  frame?: number;
  /** Default: now. */
  captureUs?: number;
}

const FORMAT = { bgra: 1, rgba: 2 } as const;
const INFO_BYTES = 64; // smx_jpeg_info

/**
 * Bits per pixel of a JPEG frame of the bench scene at `quality` (measured, scripts/bench_jpeg.ts;
 * linear in between). Rendered content with gradients and edges; camera noise costs more.
 */
const BITS_PER_PIXEL: [quality: number, bpp: number][] = [
  [50, 0.30],
  [60, 0.32],
  [70, 0.39],
  [75, 0.44],
  [80, 0.50],
  [85, 0.55],
  [90, 0.68],
  [95, 1.02],
  [100, 2.2],
];

/** Expected bit rate of a JPEG rendition (for the rate ladder's link steps). */
export function estimateJpegKbps(
  width: number,
  height: number,
  fps: number,
  quality = DEFAULT_JPEG_QUALITY,
): number {
  const t = BITS_PER_PIXEL;
  const q = Math.min(100, Math.max(1, quality));
  const i = t.findIndex(([tq]) => tq >= q); // 0 below the table: scale its first entry down
  const [[q0, b0], [q1, b1]] = i > 0 ? [t[i - 1], t[i]] : [[0, 0], t[0]];
  const bpp = b0 + (b1 - b0) * (q - q0) / (q1 - q0);
  return Math.round(width * height * bpp * fps / 1000);
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
  return new ClosedError(Status.CLOSED, "JPEG encoder is closed");
}

export class JpegEncoder implements Disposable {
  #handle: Deno.PointerObject | null;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;
  #nextFrame = 1;
  #quality: number;
  readonly #info = new Uint8Array(INFO_BYTES);
  /** What compresses ("libjpeg-turbo"), for stats and the `subscribed` message. */
  readonly name = "libjpeg-turbo";
  /** The `codec` a viewer is told: decode with createImageBitmap / ImageDecoder. */
  readonly codec = "jpeg";
  readonly width: number;
  readonly height: number;

  private constructor(handle: Deno.PointerObject, w: number, h: number, quality: number) {
    this.#handle = handle;
    this.width = w;
    this.height = h;
    this.#quality = quality;
  }

  /** Opens a session (synchronous: no frame is compressed); throws InvalidArgumentError. */
  static open(opts: JpegOptions): JpegEncoder {
    const width = requireUint("width", opts.width);
    const height = requireUint("height", opts.height);
    const quality = requireUint("quality", opts.quality ?? DEFAULT_JPEG_QUALITY);
    const handle = native().smx_jpeg_open(width, height, quality);
    if (handle === null) throw lastError(Status.ENCODER);
    return new JpegEncoder(handle, width, height, quality);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get quality(): number {
    return this.#quality;
  }

  /** Takes effect at the next frame. */
  setQuality(quality: number): void {
    const q = requireUint("quality", Math.round(quality));
    if (this.#closed || !this.#handle) throw closedError();
    const r = native().smx_jpeg_set_quality(this.#handle, q);
    if (r < 0) throw this.#error(this.#handle, r);
    this.#quality = q;
  }

  /**
   * Compresses the newest frame of a ring reader (zero-copy from shared memory). Resolves null
   * when the ring has no frame yet or the frame was overwritten while it was converted (nothing
   * was compressed).
   */
  encodeRing(reader: RingSource): Promise<JpegFrame | null> {
    return this.#run(async (h) => {
      const call = (ring: Deno.PointerObject) => native().smx_jpeg_encode_ring(h, ring);
      // A FrameRingReader must not run its own wait/copy on another thread meanwhile.
      const r = reader.exclusive ? await reader.exclusive(call) : await call(reader.pointer);
      if (r === Status.TORN || r === Status.AGAIN) return null;
      if (r < 0) throw this.#error(h, r);
      return this.#collect(h);
    });
  }

  /** Compresses a caller's BGRA/RGBA picture of any size (scaled to the session size). */
  encodeRgba(
    pixels: Uint8Array,
    width: number,
    height: number,
    o: JpegRgbaInput = {},
  ): Promise<JpegFrame> {
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
        const r = await native().smx_jpeg_encode_rgba(
          h,
          pixels as Uint8Array<ArrayBuffer>,
          BigInt(pixels.byteLength),
          width,
          height,
          stride,
          format,
          BigInt(frame),
          BigInt(captureUs),
        );
        if (r < 0) throw this.#error(h, r);
        return this.#collect(h);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Idempotent. Frees at once when idle, else right after the call in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const free = () => {
      if (this.#handle) native().smx_jpeg_close(this.#handle);
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

  #error(h: Deno.PointerObject, code: number): SmxNativeError {
    return errorFor(code, cString(native().smx_jpeg_error(h)));
  }

  #collect(h: Deno.PointerObject): JpegFrame {
    const n = native();
    const st = n.smx_jpeg_packet_info(h, this.#info);
    if (st < 0) throw this.#error(h, st);
    const v = new DataView(this.#info.buffer);
    const size = v.getUint32(0, true);
    const data = new Uint8Array(size);
    const ptr = n.smx_jpeg_packet_data(h);
    if (size > 0 && ptr) new Deno.UnsafePointerView(ptr).copyInto(data);
    return {
      data,
      keyframe: true,
      quality: v.getUint32(4, true),
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

/**
 * The Windows H.264 encoder (ffi/native/win/win_encoder.c): NVENC on the GPU (D3D11 video
 * processor BGRA → NV12 at the session size, nvEncodeAPI64.dll loaded at run time), or Media
 * Foundation's H.264 encoder when NVENC is missing (no NVIDIA driver, no NVENC on the GPU, the
 * consumer cards' session limit). Same interface as the Linux `H264Encoder` (ffi/encoder.ts), so
 * encoder/codec_encoder.ts opens one or the other by `Deno.build.os` and nothing else cares.
 *
 * `encodeRing(reader)` takes a Spout receiver (ffi/native/win/spout.h): `reader.pointer` is its
 * native handle, exactly as a frame-ring reader's is on Linux. The frame goes to the encoder on
 * the GPU when the receiver's D3D11 device has video support, else through its CPU readback.
 *
 * Rules as in ffi/encoder.ts: calls on one encoder run one at a time; a pixel buffer handed to
 * `encodeRgba` is read on a worker thread until the promise settles; `close()` frees after the
 * call in flight.
 */
import { native } from "./lib.ts";
import {
  ClosedError,
  cString,
  EncoderError,
  errorFor,
  InvalidArgumentError,
  SmxNativeError,
  Status,
  toCString,
} from "./errors.ts";
import {
  defaultBitrateKbps,
  type EncodedFrame,
  type EncoderOptions,
  type H264Profile,
  type RgbaInput,
  type RingSource,
} from "./encoder.ts";

/** SMX_E_SESSION_LIMIT (win_encoder.h): NVENC alone was asked for and no session is free. */
export const SESSION_LIMIT_STATUS = -100;

/** Every NVENC session of a consumer card is taken: share a rendition, or allow "mf". */
export class NvencSessionLimitError extends EncoderError {}

export interface WinEncoderOptions extends EncoderOptions {
  /** The D3D11 device (ID3D11Device*) the source's textures live on; default: the encoder makes
   * its own and moves to the device of the first texture it gets. */
  device?: Deno.PointerObject | null;
}

const PROFILE: Record<H264Profile, number> = { main: 0, baseline: 1 };
const FORMAT = { bgra: 1, rgba: 2 } as const;
const INFO_BYTES = 64; // smx_win_packet_info
const ERR_BYTES = 2048;

/**
 * Encoder names as the Linux side spells them (SMX_ENCODERS, a session's preference) → the
 * Windows encoder's: NVENC is NVENC; libx264 (the CPU fallback) becomes Media Foundation.
 */
const NAME_MAP: Record<string, string> = {
  nvenc: "nvenc",
  h264_nvenc: "nvenc",
  mf: "mf",
  libx264: "mf",
};

/** The Windows preference string for a list of encoder names; throws on an unknown name. */
export function windowsPreference(names: readonly string[] | undefined): string {
  if (!names?.length) return "";
  const out: string[] = [];
  for (const n of names) {
    const w = NAME_MAP[n];
    if (!w) {
      throw new InvalidArgumentError(
        Status.INVALID_ARG,
        `encoder ${JSON.stringify(n)} is not available on Windows (nvenc, mf; h264_nvenc and ` +
          "libx264 are taken as nvenc and mf)",
      );
    }
    if (!out.includes(w)) out.push(w);
  }
  return out.join(",");
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

function typedError(code: number, msg: string): SmxNativeError {
  return code === SESSION_LIMIT_STATUS
    ? new NvencSessionLimitError(code, msg)
    : errorFor(code, msg);
}

function closedError(): ClosedError {
  return new ClosedError(Status.CLOSED, "encoder is closed");
}

function requireWindows(): void {
  if (Deno.build.os !== "windows") {
    throw new EncoderError(
      Status.ENCODER,
      "the Windows encoder (NVENC on D3D11, Media Foundation) runs on Windows only",
    );
  }
}

/** What the machine offers, for the verification script: NVENC's capabilities or why not, and
 * the Media Foundation encoder that would serve. */
export interface WinEncoderCaps {
  nvenc: Record<string, number | string> & { error?: string };
  mf: string | { error: string };
}

export async function winEncoderCaps(
  device: Deno.PointerObject | null = null,
): Promise<WinEncoderCaps> {
  requireWindows();
  const out = new Uint8Array(4096);
  const n = await native().smx_win_encoder_caps(device, out, out.length);
  if (n < 0) throw errorFor(n, cString(native().smx_last_error()));
  return JSON.parse(new TextDecoder().decode(out.subarray(0, n))) as WinEncoderCaps;
}

export class WinH264Encoder implements Disposable {
  #handle: Deno.PointerObject | null;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;
  #codec: string;
  #nextFrame = 1;
  readonly #info = new Uint8Array(INFO_BYTES);
  /** "nvenc" or "Media Foundation: <MFT> (hardware|software)". */
  readonly name: string;
  /** Why NVENC was passed over ("nvenc: NVENC session limit reached: 3 sessions open …"). */
  readonly skipped: string;
  readonly profile: H264Profile;

  private constructor(handle: Deno.PointerObject, profile: H264Profile) {
    const n = native();
    this.#handle = handle;
    this.profile = profile;
    this.name = cString(n.smx_win_encoder_name(handle));
    this.skipped = cString(n.smx_win_encoder_skipped(handle));
    this.#codec = cString(n.smx_win_encoder_codec(handle));
  }

  /** Opens a session; throws InvalidArgumentError, EncoderError (every reason), or
   * NvencSessionLimitError when NVENC alone was asked for and no session is free. */
  static async open(opts: WinEncoderOptions): Promise<WinH264Encoder> {
    requireWindows();
    const width = requireUint("width", opts.width);
    const height = requireUint("height", opts.height);
    const fps = requireUint("fps", opts.fps);
    const kbps = requireUint(
      "bitrateKbps",
      opts.bitrateKbps ?? defaultBitrateKbps(width, height, fps),
    );
    const profile = opts.profile ?? "main";
    if (!Object.hasOwn(PROFILE, profile)) {
      throw new InvalidArgumentError(
        Status.INVALID_ARG,
        `profile must be "main" or "baseline", got ${JSON.stringify(profile)}`,
      );
    }
    const pref = windowsPreference(opts.preference);
    const err = new Uint8Array(ERR_BYTES);
    const status = new Int32Array(1);
    const handle = await native().smx_win_encoder_open(
      opts.device ?? null,
      width,
      height,
      fps,
      kbps,
      PROFILE[profile],
      pref ? toCString(pref) : null,
      err,
      err.length,
      status,
    );
    if (handle === null) {
      const end = err.indexOf(0);
      const msg = new TextDecoder().decode(err.subarray(0, end < 0 ? err.length : end));
      throw typedError(status[0] || Status.ENCODER, msg);
    }
    return new WinH264Encoder(handle, profile);
  }

  /** WebCodecs codec string of the SPS the encoder writes ("avc1.4d4028", "avc1.42c01f"). */
  get codec(): string {
    return this.#codec;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The D3D11 device the encoder works on (a Spout receiver can open its texture there). */
  get device(): Deno.PointerValue {
    if (this.#closed || !this.#handle) return null;
    return native().smx_win_encoder_device(this.#handle);
  }

  /**
   * Encodes the newest frame of a Spout receiver. Resolves null when there is no frame yet or
   * the sender held its lock too long (nothing encoded; a requested IDR carries over).
   */
  encodeRing(reader: RingSource, forceIdr = false): Promise<EncodedFrame | null> {
    return this.#run(async (h) => {
      const call = (r: Deno.PointerObject) =>
        native().smx_win_encoder_encode_spout(h, r, forceIdr ? 1 : 0);
      const r = reader.exclusive ? await reader.exclusive(call) : await call(reader.pointer);
      if (r === Status.TORN || r === Status.AGAIN) return null;
      if (r < 0) throw this.#error(h, r);
      return this.#collect(h);
    });
  }

  /** Encodes an ID3D11Texture2D* (BGRA/RGBA, any size; converted and scaled on the GPU). */
  encodeTexture(
    texture: Deno.PointerObject,
    o: { frame?: number; captureUs?: number; forceIdr?: boolean } = {},
  ): Promise<EncodedFrame> {
    const frame = o.frame ?? this.#nextFrame;
    this.#nextFrame = frame + 1;
    const captureUs = Math.round(o.captureUs ?? Number(native().smx_now_us()));
    return this.#run(async (h) => {
      const r = await native().smx_win_encoder_encode_texture(
        h,
        texture,
        BigInt(frame),
        BigInt(captureUs),
        o.forceIdr ? 1 : 0,
      );
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
        const r = await native().smx_win_encoder_encode_bgra(
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
    this.#sync((h) => native().smx_win_encoder_request_idr(h));
  }

  /** Takes effect at the next frame, in the same session (NVENC: reconfigured, no IDR). */
  setBitrate(kbps: number): void {
    const v = requireUint("kbps", Math.round(kbps));
    this.#sync((h) => native().smx_win_encoder_set_bitrate(h, v));
  }

  /** New frame rate for rate control (the per-frame bit budget), in the same session. */
  setFps(fps: number): void {
    const v = requireUint("fps", Math.round(fps));
    this.#sync((h) => native().smx_win_encoder_set_fps(h, v));
  }

  /** Idempotent. Frees at once when idle, else right after the call in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const free = () => {
      if (this.#handle) native().smx_win_encoder_close(this.#handle);
      this.#handle = null;
    };
    if (this.#pending === 0) free();
    else this.#queue.then(free);
  }

  [Symbol.dispose](): void {
    this.close();
  }

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
    return typedError(code, cString(native().smx_win_encoder_error(h)));
  }

  #collect(h: Deno.PointerObject): EncodedFrame {
    const n = native();
    const st = n.smx_win_encoder_packet_info(h, this.#info);
    if (st < 0) throw this.#error(h, st);
    const v = new DataView(this.#info.buffer);
    const size = v.getUint32(0, true);
    const keyframe = v.getUint32(4, true) !== 0;
    const data = new Uint8Array(size);
    const ptr = n.smx_win_encoder_packet_data(h);
    if (size > 0 && ptr) new Deno.UnsafePointerView(ptr).copyInto(data);
    if (keyframe) this.#codec = cString(n.smx_win_encoder_codec(h));
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

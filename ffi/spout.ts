/**
 * Typed wrapper of the Spout receiver (Windows only; ffi/native/win/spout.{h,c}).
 *
 * `listSpoutSenders()` reads Spout's sender list; a `SpoutReceiver` follows one sender: wait()
 * for a new frame (nonblocking FFI: the event loop stays free), info(), and copyLatest() — a CPU
 * readback of the newest frame as tightly packed BGRA, for the software encode path. Calls on one
 * receiver run one at a time, and close() frees the native handle only after the call in flight.
 * A sender that closes or dies gives WriterGoneError, as a frame ring's writer does.
 *
 * Everywhere but Windows, listing returns [] and open() throws NotFoundError: there is no Spout.
 */
import { lastError, native } from "./lib.ts";
import {
  ClosedError,
  errorFor,
  InvalidArgumentError,
  NotFoundError,
  SmxNativeError,
  Status,
  toCString,
} from "./errors.ts";

/** Spout exists only on Windows (smx.dll); elsewhere its symbols are not loaded at all. */
export const SPOUT_AVAILABLE = Deno.build.os === "windows";

/** Flags of a listed sender and of SpoutFrameInfo (smx_spout.h SMX_SPOUT_F_*). */
export const SpoutFlag = {
  FRAME_COUNT: 1,
  ACCESS_MUTEX: 2,
  ACTIVE: 4,
  CPU_SHARE: 8,
  GLDX: 16,
  TEXTURE_OPEN: 32,
  KEYED_MUTEX: 64,
  POLLING: 128,
} as const;

export interface SpoutSender {
  name: string;
  width: number;
  height: number;
  /** The sender's DXGI format (87 BGRA, 28 RGBA; 21/22 from D3D9 senders). */
  dxgiFormat: number;
  shareHandle: number;
  flags: number;
  /** The sender's own frame count, -1 when it does not count frames. */
  senderFrame: number;
  /** Spout 2.007: the sender's executable path. */
  description: string;
}

export interface SpoutFrameInfo {
  /** Receiver's frame number (1 = first seen; 0n = none yet). */
  frame: bigint;
  /** When the receiver saw the frame (smx_now_us; Spout carries no capture time). */
  captureUs: bigint;
  width: number;
  height: number;
  /** Bytes per row of copyLatest()'s pixels (width * 4). */
  stride: number;
  format: "bgra";
  dxgiFormat: number;
  shareHandle: number;
  flags: number;
  /** Times the shared texture was reopened (a new share handle or size). */
  reopens: number;
  senderFrame: bigint;
}

const INFO_BYTES = 64; // sizeof(smx_spout_info)

/** Parses smx_spout_list's lines (exported for tests, which feed it the DLL's real output). */
export function parseSpoutList(text: string): SpoutSender[] {
  return text.split("\n").filter(Boolean).map((line) => {
    const f = line.split("\t");
    if (f.length < 8) throw new Error(`malformed Spout listing line: ${JSON.stringify(line)}`);
    return {
      name: f[0],
      width: Number(f[1]),
      height: Number(f[2]),
      dxgiFormat: Number(f[3]),
      shareHandle: Number(f[4]),
      flags: Number(f[5]),
      senderFrame: Number(f[6]),
      description: f.slice(7).join("\t"),
    };
  });
}

/** Parses a 64-byte smx_spout_info (exported for tests). */
export function parseSpoutInfo(buf: Uint8Array): SpoutFrameInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, INFO_BYTES);
  return {
    frame: v.getBigUint64(0, true),
    captureUs: v.getBigInt64(8, true),
    width: v.getUint32(16, true),
    height: v.getUint32(20, true),
    stride: v.getUint32(24, true),
    format: "bgra",
    dxgiFormat: v.getUint32(32, true),
    shareHandle: v.getUint32(36, true),
    flags: v.getUint32(40, true),
    reopens: v.getUint32(44, true),
    senderFrame: v.getBigInt64(48, true),
  };
}

/** The Spout senders on this machine ([] off Windows). Synchronous; cheap (a few map reads). */
export function listSpoutSenders(): SpoutSender[] {
  if (!SPOUT_AVAILABLE) return [];
  for (let cap = 64 * 1024;; cap *= 4) {
    const buf = new Uint8Array(cap);
    const n = native().smx_spout_list(buf, BigInt(cap));
    if (n === Status.NO_MEMORY && cap < 16 * 1024 * 1024) continue;
    if (n < 0) throw lastError(n);
    return parseSpoutList(new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))));
  }
}

export interface SpoutSelftest {
  ok: boolean;
  /** What was used (adapter, video support) or what failed. */
  message: string;
}

/**
 * Checks the receiver's D3D11 side on this machine without a sender (smx_spout_d3d_selftest): a
 * device on the first adapter, a shared texture with a known picture, the copy into the
 * receiver's own texture (under a keyed mutex when `keyed`) and the BGRA readback, compared pixel
 * by pixel. For the verification script on a real machine. Windows only.
 */
export function spoutD3dSelftest(keyed = false): SpoutSelftest {
  if (!SPOUT_AVAILABLE) return { ok: false, message: "Spout is Windows only" };
  const w = 67, h = 33; // odd: the staging texture's rows are padded and copied one by one
  const px = new Uint8Array(w * h * 4);
  const msg = new Uint8Array(512);
  const n = Number(
    native().smx_spout_d3d_selftest(w, h, 87, keyed ? 1 : 0, px, BigInt(px.length), msg, 512),
  );
  const message = new TextDecoder().decode(msg.subarray(0, msg.indexOf(0)));
  if (n !== px.length) return { ok: false, message: message || `status ${n}` };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let i = 0; i < 4; i++) {
        if (px[(y * w + x) * 4 + i] !== ((x + 2 * y + 64 * i) & 255)) {
          return { ok: false, message: `${message}; pixel (${x}, ${y}) differs` };
        }
      }
    }
  }
  return { ok: true, message };
}

/** smx side of one Spout sender: frames, size changes, and its going away. */
export class SpoutReceiver implements Disposable {
  #handle: Deno.PointerObject | null;
  #closing = false;
  #inFlight = 0;
  #tail: Promise<void> = Promise.resolve();

  private constructor(readonly name: string, handle: Deno.PointerObject) {
    this.#handle = handle;
  }

  /**
   * Opens the sender `name`: NotFoundError when there is none (or off Windows). `pollFps` bounds
   * the frame rate assumed for a sender that does not count its frames (default 60).
   */
  static open(name: string, pollFps = 60): SpoutReceiver {
    if (!SPOUT_AVAILABLE) {
      throw new NotFoundError(Status.NOT_FOUND, `Spout sender '${name}': Spout is Windows only`);
    }
    if (!Number.isInteger(pollFps) || pollFps < 1 || pollFps > 1000) {
      throw new InvalidArgumentError(Status.INVALID_ARG, `pollFps must be 1..1000, got ${pollFps}`);
    }
    const handle = native().smx_spout_receiver_open(toCString(name), pollFps);
    if (!handle) throw lastError();
    return new SpoutReceiver(name, handle);
  }

  get closed(): boolean {
    return this.#closing;
  }

  #live(): Deno.PointerObject {
    if (this.#closing || !this.#handle) {
      throw new ClosedError(Status.CLOSED, `Spout receiver '${this.name}' is closed`);
    }
    return this.#handle;
  }

  /** The native handle, for a GPU encoder in smx.dll; use it inside exclusive(). */
  get pointer(): Deno.PointerObject {
    return this.#live();
  }

  /** Runs `fn` after this receiver's earlier calls; close() waits for it before freeing. */
  async exclusive<T>(fn: (pointer: Deno.PointerObject) => Promise<T>): Promise<T> {
    this.#live();
    const previous = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((resolve) => done = resolve);
    this.#inFlight++;
    try {
      await previous;
      return await fn(this.#live());
    } finally {
      this.#inFlight--;
      done();
      if (this.#closing && this.#inFlight === 0) this.#release();
    }
  }

  #failure(handle: Deno.PointerObject, status: number): SmxNativeError {
    const msg = native().smx_spout_receiver_error(handle);
    return errorFor(status, msg ? Deno.UnsafePointerView.getCString(msg) : "");
  }

  /** Waits for a frame newer than `afterFrame`: true when there is one, false on timeout. */
  wait(afterFrame: bigint, timeoutMs: number): Promise<boolean> {
    if (typeof afterFrame !== "bigint" || afterFrame < 0n) {
      return Promise.reject(
        new InvalidArgumentError(Status.INVALID_ARG, "afterFrame must be a bigint >= 0"),
      );
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0x7fff_ffff) {
      return Promise.reject(
        new InvalidArgumentError(Status.INVALID_ARG, `timeoutMs must be 0..2^31-1`),
      );
    }
    return this.exclusive(async (handle) => {
      const status = await native().smx_spout_receiver_wait(handle, afterFrame, timeoutMs);
      if (status === Status.OK) return true;
      if (status === Status.TIMEOUT) return false;
      throw this.#failure(handle, status);
    });
  }

  /** The newest frame's number, the sender's size and how frames are counted. Synchronous. */
  info(): SpoutFrameInfo {
    const buf = new Uint8Array(INFO_BYTES);
    const status = native().smx_spout_receiver_info(this.#live(), buf);
    if (status < 0) throw lastError(status);
    return parseSpoutInfo(buf);
  }

  /**
   * The newest frame as tightly packed BGRA rows (a GPU copy, then a staging readback). null when
   * there is nothing to copy this time: the sender has no texture yet or held its lock too long.
   */
  copyLatest(): Promise<{ pixels: Uint8Array; info: SpoutFrameInfo } | null> {
    return this.exclusive(async (handle) => {
      const infoBuf = new Uint8Array(INFO_BYTES);
      let { width, height } = this.info();
      for (let attempt = 0; attempt < 4; attempt++) {
        const cap = Math.max(4, width * height * 4);
        const pixels = new Uint8Array(cap);
        const n = Number(
          await native().smx_spout_receiver_copy_latest(handle, pixels, BigInt(cap), infoBuf),
        );
        const info = parseSpoutInfo(infoBuf);
        if (n >= 0) return { pixels: n === cap ? pixels : pixels.slice(0, n), info };
        if (n === Status.AGAIN || n === Status.TORN) return null;
        if (n !== Status.RESIZED) throw this.#failure(handle, n);
        ({ width, height } = info); // the sender grew between info() and the copy
      }
      throw this.#failure(handle, Status.RESIZED);
    });
  }

  /** Releases the receiver; a call still running finishes first. Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#inFlight === 0) this.#release();
  }

  #release(): void {
    const handle = this.#handle;
    this.#handle = null;
    if (handle) native().smx_spout_receiver_close(handle);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Typed wrappers of the frame ring (ffi/native/ring.c; layout and rules: docs/frame-ring.md).
 *
 * A FrameRingWriter is what an engine (or the pattern sender, or a test) uses to publish frames;
 * a FrameRingReader is smx's side. Readers run their waiting and copying calls on Deno's blocking
 * thread pool (nonblocking FFI) one at a time per handle, so the event loop never stalls and a
 * native handle is never used by two threads or freed under a running call.
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

export type PixelFormat = "bgra" | "rgba";

export interface SenderInfo {
  name: string;
  width: number;
  height: number;
  format: PixelFormat;
  pid: number;
}

export interface RingInfo {
  /** Writer's frame number (1 = first frame; 0 = nothing published yet). */
  frame: bigint;
  /** Writer's CLOCK_REALTIME µs when the frame was captured. */
  captureUs: bigint;
  width: number;
  height: number;
  /** Bytes per row: of the slot for info(), of the tightly packed copy for copyLatest(). */
  stride: number;
  format: PixelFormat;
  writerPid: number;
  slotCount: number;
  heartbeatAgeMs: number;
}

const FORMAT_CODES: Record<PixelFormat, number> = { bgra: 1, rgba: 2 };
const INFO_BYTES = 48; // sizeof(smx_ring_info)
const DEFAULT_STALE_MS = 2000;

/** Native code of a pixel format; throws InvalidArgumentError for anything else. */
export function formatCode(format: PixelFormat): number {
  const code = FORMAT_CODES[format];
  if (code === undefined) {
    throw new InvalidArgumentError(
      Status.INVALID_ARG,
      `pixel format ${JSON.stringify(format)} is unknown (bgra or rgba)`,
    );
  }
  return code;
}

function formatName(code: number): PixelFormat {
  return code === FORMAT_CODES.rgba ? "rgba" : "bgra";
}

/** Checks that a JS number can cross the FFI as the u32 the C side validates. */
export function requireU32(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new InvalidArgumentError(
      Status.INVALID_ARG,
      `${what} must be a non-negative integer, got ${value}`,
    );
  }
  return value;
}

function closed(what: string): ClosedError {
  return new ClosedError(Status.CLOSED, `${what} is closed`);
}

function parseInfo(buf: Uint8Array<ArrayBuffer>): RingInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, INFO_BYTES);
  return {
    frame: v.getBigUint64(0, true),
    captureUs: v.getBigInt64(8, true),
    width: v.getUint32(16, true),
    height: v.getUint32(20, true),
    stride: v.getUint32(24, true),
    format: formatName(v.getUint32(28, true)),
    writerPid: v.getUint32(32, true),
    slotCount: v.getUint32(36, true),
    heartbeatAgeMs: Number(v.getBigInt64(40, true)),
  };
}

/** Live senders on this machine; writers silent for longer than `staleMs` are left out. Frame
 * rings are POSIX shared memory: none on Windows (whose senders are Spout's, ffi/spout.ts). */
export function listSenders(staleMs = DEFAULT_STALE_MS): SenderInfo[] {
  requireU32("staleMs", staleMs);
  if (Deno.build.os === "windows") return [];
  for (let cap = 16 * 1024;; cap *= 4) {
    const buf = new Uint8Array(cap);
    const n = native().smx_ring_list(buf, BigInt(cap), Math.min(staleMs, 0x7fff_ffff));
    if (n === Status.NO_MEMORY && cap < 16 * 1024 * 1024) continue;
    if (n < 0) throw lastError(n);
    const text = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
    return text.split("\n").filter(Boolean).map((line) => {
      const [name, width, height, format, pid] = line.split("\t");
      return {
        name,
        width: Number(width),
        height: Number(height),
        format: format as PixelFormat,
        pid: Number(pid),
      };
    });
  }
}

/** Engine side: publishes frames into /dev/shm/smx-ring-<name>. Closing removes the ring. */
export class FrameRingWriter implements Disposable {
  #handle: Deno.PointerObject | null;
  #width: number;
  #height: number;
  #stride: number;
  /** The slot view handed out by begin(); detached once it must no longer be touched. */
  #view: ArrayBuffer | null = null;

  private constructor(
    readonly name: string,
    readonly format: PixelFormat,
    handle: Deno.PointerObject,
    width: number,
    height: number,
  ) {
    this.#handle = handle;
    this.#width = width;
    this.#height = height;
    this.#stride = native().smx_ring_writer_stride(handle);
  }

  /** Creates the ring; fails if a live writer already uses `name`. */
  static open(
    name: string,
    width: number,
    height: number,
    format: PixelFormat = "bgra",
    slots = 3,
  ): FrameRingWriter {
    const code = formatCode(format);
    requireU32("width", width);
    requireU32("height", height);
    requireU32("slots", slots);
    const handle = native().smx_ring_writer_open(toCString(name), width, height, code, slots);
    if (!handle) throw lastError();
    return new FrameRingWriter(name, format, handle, width, height);
  }

  get width(): number {
    return this.#width;
  }
  get height(): number {
    return this.#height;
  }
  /** Bytes per row of the slot returned by begin() (rows are 64-byte aligned). */
  get stride(): number {
    return this.#stride;
  }
  get closed(): boolean {
    return this.#handle === null;
  }

  #live(): Deno.PointerObject {
    if (!this.#handle) throw closed(`frame ring writer '${this.name}'`);
    return this.#handle;
  }

  /** Detaches the last view so a stale reference reads as empty instead of touching memory that
   * is published, re-mapped or unmapped. */
  #detach(): void {
    this.#view?.transfer(0);
    this.#view = null;
  }

  /**
   * The pixels of the next slot (`stride * height` bytes, rows `stride` apart), live in shared
   * memory. Valid until commit(), resize() or close(); afterwards it is detached (length 0).
   */
  begin(): Uint8Array {
    const handle = this.#live();
    this.#detach();
    const ptr = native().smx_ring_writer_begin(handle);
    if (!ptr) throw lastError();
    this.#view = Deno.UnsafePointerView.getArrayBuffer(ptr, this.#stride * this.#height);
    return new Uint8Array(this.#view);
  }

  /** Publishes the slot from begin(); returns its frame number. captureUs 0 = now. */
  commit(captureUs = 0n): bigint {
    const handle = this.#live();
    this.#detach();
    const frame = native().smx_ring_writer_commit(handle, captureUs);
    if (frame < 0n) throw lastError(Number(frame));
    return frame;
  }

  /** Changes the frame size (re-creating the ring when it outgrows the slots). */
  resize(width: number, height: number): void {
    const handle = this.#live();
    requireU32("width", width);
    requireU32("height", height);
    this.#detach();
    const status = native().smx_ring_writer_resize(handle, width, height);
    if (status < 0) throw lastError(status);
    this.#width = width;
    this.#height = height;
    this.#stride = native().smx_ring_writer_stride(handle);
  }

  /** Shows life without a frame: call at least every 500 ms while not committing. */
  heartbeat(): void {
    const status = native().smx_ring_writer_heartbeat(this.#live());
    if (status < 0) throw lastError(status);
  }

  /** Marks the ring closed (readers see WriterGoneError) and removes it. Idempotent. */
  close(): void {
    if (!this.#handle) return;
    this.#detach();
    native().smx_ring_writer_close(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** smx side: follows one sender's ring, across resizes, until the writer goes away. */
export class FrameRingReader implements Disposable {
  #handle: Deno.PointerObject | null;
  #closing = false;
  /** Calls queued or running on the worker pool; close() frees the handle after the last. */
  #inFlight = 0;
  #tail: Promise<void> = Promise.resolve();

  private constructor(readonly name: string, handle: Deno.PointerObject) {
    this.#handle = handle;
  }

  /** Opens a live sender's ring: NotFoundError if there is none, WriterGoneError if it died. */
  static open(name: string): FrameRingReader {
    if (Deno.build.os === "windows") {
      throw new NotFoundError(
        Status.NOT_FOUND,
        `frame ring '${name}': frame rings are not on Windows`,
      );
    }
    const handle = native().smx_ring_reader_open(toCString(name));
    if (!handle) throw lastError();
    return new FrameRingReader(name, handle);
  }

  get closed(): boolean {
    return this.#closing;
  }

  #live(): Deno.PointerObject {
    if (this.#closing || !this.#handle) throw closed(`frame ring reader '${this.name}'`);
    return this.#handle;
  }

  /**
   * The native handle, for the encoder's encode_ring. Use it inside exclusive() so that it does
   * not run at the same time as this reader's own wait()/copyLatest() or after close().
   */
  get pointer(): Deno.PointerObject {
    return this.#live();
  }

  /**
   * Runs `fn` with the native handle once every earlier nonblocking call of this reader has
   * finished, and keeps close() from freeing the handle until it settles.
   */
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

  /** The error a nonblocking call left on the handle (the thread-local one is the worker's). */
  #failure(handle: Deno.PointerObject, status: number): SmxNativeError {
    const msg = native().smx_ring_reader_error(handle);
    return errorFor(status, msg ? Deno.UnsafePointerView.getCString(msg) : "");
  }

  /**
   * Waits for a frame newer than `afterFrame`: true when one is there, false on timeout.
   * Throws WriterGoneError when the writer closed, died or stopped its heartbeat.
   */
  wait(afterFrame: bigint, timeoutMs: number): Promise<boolean> {
    if (typeof afterFrame !== "bigint" || afterFrame < 0n) {
      return Promise.reject(
        new InvalidArgumentError(Status.INVALID_ARG, `afterFrame must be a bigint >= 0`),
      );
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0x7fff_ffff) {
      return Promise.reject(
        new InvalidArgumentError(
          Status.INVALID_ARG,
          `timeoutMs must be 0..2^31-1, got ${timeoutMs}`,
        ),
      );
    }
    return this.exclusive(async (handle) => {
      const status = await native().smx_ring_reader_wait(handle, afterFrame, timeoutMs);
      if (status === Status.OK) return true;
      if (status === Status.TIMEOUT) return false;
      throw this.#failure(handle, status);
    });
  }

  /** About the latest frame (frame 0n before the first) and the writer. Synchronous. */
  info(): RingInfo {
    const buf = new Uint8Array(INFO_BYTES);
    const status = native().smx_ring_reader_info(this.#live(), buf);
    if (status < 0) throw lastError(status);
    return parseInfo(buf);
  }

  /**
   * A copy of the latest complete frame (tightly packed rows, width * 4 bytes each). Throws
   * SmxNativeError with code Status.AGAIN before the first frame.
   */
  copyLatest(): Promise<{ pixels: Uint8Array; info: RingInfo }> {
    return this.exclusive(async (handle) => {
      const infoBuf = new Uint8Array(INFO_BYTES);
      let { width, height } = this.info();
      for (let attempt = 0; attempt < 4; attempt++) {
        const cap = Math.max(4, width * height * 4);
        const pixels = new Uint8Array(cap);
        const n = Number(
          await native().smx_ring_reader_copy_latest(handle, pixels, BigInt(cap), infoBuf),
        );
        const info = parseInfo(infoBuf);
        if (n >= 0) return { pixels: n === cap ? pixels : pixels.slice(0, n), info };
        if (n !== Status.RESIZED) throw this.#failure(handle, n);
        ({ width, height } = info); // the frame grew between info() and the copy
      }
      throw this.#failure(handle, Status.RESIZED);
    });
  }

  /** Releases the ring; a call still running finishes first, queued ones throw ClosedError. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#inFlight === 0) this.#release();
  }

  #release(): void {
    const handle = this.#handle;
    this.#handle = null;
    if (handle) native().smx_ring_reader_close(handle);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

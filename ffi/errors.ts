/**
 * Typed errors for the native shim's status codes (ffi/native/smx_common.h).
 * Every failing call becomes one of these, carrying the shim's own message.
 */

export const Status = {
  OK: 0,
  INVALID_ARG: -1,
  NOT_FOUND: -2,
  IO: -3,
  FORMAT: -4,
  WRITER_GONE: -5,
  TIMEOUT: -6,
  TORN: -7,
  ENCODER: -8,
  NO_MEMORY: -9,
  CLOSED: -10,
  AGAIN: -11,
  RESIZED: -12,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** Base class: `code` is the shim's status, `message` its explanation. */
export class SmxNativeError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidArgumentError extends SmxNativeError {}
export class NotFoundError extends SmxNativeError {}
export class NativeIoError extends SmxNativeError {}
export class FormatError extends SmxNativeError {}
export class WriterGoneError extends SmxNativeError {}
export class TimeoutError extends SmxNativeError {}
export class TornFrameError extends SmxNativeError {}
export class EncoderError extends SmxNativeError {}
export class OutOfMemoryError extends SmxNativeError {}
export class ClosedError extends SmxNativeError {}
export class ResizedError extends SmxNativeError {}
/** Nothing published yet (a reader opened before the writer's first frame). */
export class NoFrameYetError extends SmxNativeError {}

const BY_CODE: Record<number, new (code: number, message: string) => SmxNativeError> = {
  [Status.INVALID_ARG]: InvalidArgumentError,
  [Status.NOT_FOUND]: NotFoundError,
  [Status.IO]: NativeIoError,
  [Status.FORMAT]: FormatError,
  [Status.WRITER_GONE]: WriterGoneError,
  [Status.TIMEOUT]: TimeoutError,
  [Status.TORN]: TornFrameError,
  [Status.ENCODER]: EncoderError,
  [Status.NO_MEMORY]: OutOfMemoryError,
  [Status.CLOSED]: ClosedError,
  [Status.RESIZED]: ResizedError,
  [Status.AGAIN]: NoFrameYetError,
};

/** Builds the typed error for a negative status code. */
export function errorFor(code: number, message: string): SmxNativeError {
  const Ctor = BY_CODE[code] ?? SmxNativeError;
  return new Ctor(code, message || `native call failed with status ${code}`);
}

/** Reads a NUL-terminated C string (null pointer → ""). */
export function cString(ptr: Deno.PointerValue): string {
  return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
}

/** Encodes a JS string as a NUL-terminated UTF-8 buffer for a `buffer` parameter. */
export function toCString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

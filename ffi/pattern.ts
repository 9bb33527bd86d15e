/**
 * Typed wrapper of the pattern sender (ffi/native/pattern.c): a native thread that renders a
 * moving, frame-stamped test picture into a frame ring at a fixed rate. The demo engine runs one
 * per output; the latency benchmark reads capture times back from the stamps.
 */
import { lastError, native } from "./lib.ts";
import { ClosedError, InvalidArgumentError, Status, toCString } from "./errors.ts";
import { formatCode, type PixelFormat, requireU32 } from "./ring.ts";

export type ShapeKind = "circles" | "squares" | "bars";

export interface PatternParams {
  /** 0..1 (wraps): base colour of the shapes. */
  hue: number;
  /** 0..1 */
  saturation: number;
  /** 0..1: background brightness. */
  brightness: number;
  /** Shape motion in cycles per second, -10..10 (0 = frozen). */
  speed: number;
  /** 0..1 of the frame height. */
  shapeSize: number;
  /** 0..1 texture space, x right (clamped). */
  cursorX: number;
  /** 0..1 texture space, y down (clamped). */
  cursorY: number;
  /** 0..64 */
  shapeCount: number;
  shapeKind: ShapeKind;
  cursorVisible: boolean;
  /** Button bit mask; a pressed cursor is drawn filled. */
  cursorButtons: number;
  /** Keep sending the same picture (frame numbers and stamps still advance). */
  paused: boolean;
}

/** The look a sender starts with (the same values as DEFAULT_PARAMS in pattern.c). */
export const DEFAULT_PATTERN_PARAMS: Readonly<PatternParams> = Object.freeze({
  hue: 0.58,
  saturation: 0.75,
  brightness: 0.5,
  speed: 0.25,
  shapeSize: 0.12,
  cursorX: 0.5,
  cursorY: 0.5,
  shapeCount: 6,
  shapeKind: "circles",
  cursorVisible: true,
  cursorButtons: 0,
  paused: false,
});

/**
 * A square module matrix (a QR code) drawn over the picture after the shapes and the cursor and
 * before the frame stamp: black modules on white, with a white quiet zone of OVERLAY_QUIET
 * modules around them. (x, y) is the top-left pixel of the quiet zone; the overlay covers
 * (size + 2 × OVERLAY_QUIET) × scale pixels square, clipped to the frame.
 */
export interface PatternOverlay {
  /** size × size bytes, row-major: nonzero = dark module. */
  modules: Uint8Array;
  /** Modules per side, 1..255. */
  size: number;
  x: number;
  y: number;
  /** Pixels per module, 1..64. */
  scale: number;
}

/** Quiet-zone width in modules (SMX_PATTERN_QUIET). */
export const OVERLAY_QUIET = 4;

export interface PatternStats {
  framesSent: number;
  /** Frames that finished after the next frame's deadline (the schedule then re-anchors). */
  framesLate: number;
  /** Render thread CPU time per frame (render + stamp + commit), µs. */
  renderUsAvg: number;
  renderUsMax: number;
}

const SHAPE_KINDS: readonly ShapeKind[] = ["circles", "squares", "bars"];
const PARAMS_BYTES = 64; // sizeof(smx_pattern_params)

/** smx_pattern_params: 7 x f32, then 5 x u32, then 4 reserved u32 (little-endian). */
function encodeParams(p: PatternParams): Uint8Array<ArrayBuffer> {
  const kind = SHAPE_KINDS.indexOf(p.shapeKind);
  if (kind < 0) {
    throw new InvalidArgumentError(
      Status.INVALID_ARG,
      `shapeKind ${JSON.stringify(p.shapeKind)} is unknown (${SHAPE_KINDS.join(", ")})`,
    );
  }
  const buf = new Uint8Array(PARAMS_BYTES);
  const v = new DataView(buf.buffer);
  const floats = [p.hue, p.saturation, p.brightness, p.speed, p.shapeSize, p.cursorX, p.cursorY];
  floats.forEach((f, i) => v.setFloat32(i * 4, f, true));
  v.setUint32(28, requireU32("shapeCount", p.shapeCount), true);
  v.setUint32(32, kind, true);
  v.setUint32(36, p.cursorVisible ? 1 : 0, true);
  v.setUint32(40, requireU32("cursorButtons", p.cursorButtons), true);
  v.setUint32(44, p.paused ? 1 : 0, true);
  return buf;
}

export class PatternSender implements Disposable {
  #handle: Deno.PointerObject | null;
  #params: PatternParams = { ...DEFAULT_PATTERN_PARAMS };

  private constructor(readonly ringName: string, handle: Deno.PointerObject) {
    this.#handle = handle;
  }

  /** Creates ring `ringName` and starts rendering into it at `fps` (1..240). */
  static start(
    ringName: string,
    width: number,
    height: number,
    fps: number,
    format: PixelFormat = "bgra",
  ): PatternSender {
    const code = formatCode(format);
    requireU32("width", width);
    requireU32("height", height);
    requireU32("fps", fps);
    const handle = native().smx_pattern_start(toCString(ringName), width, height, fps, code);
    if (!handle) throw lastError();
    const sender = new PatternSender(ringName, handle);
    sender.setParams(DEFAULT_PATTERN_PARAMS); // the C defaults are the same; this makes it so
    return sender;
  }

  #live(): Deno.PointerObject {
    if (!this.#handle) {
      throw new ClosedError(Status.CLOSED, `pattern sender '${this.ringName}' is stopped`);
    }
    return this.#handle;
  }

  /** The parameters in effect. */
  get params(): Readonly<PatternParams> {
    return { ...this.#params };
  }

  /** Merges `p` into the current parameters; the next frame uses them all at once. */
  setParams(p: Partial<PatternParams>): void {
    const handle = this.#live();
    const merged = { ...this.#params, ...p };
    const status = native().smx_pattern_set_params(handle, encodeParams(merged));
    if (status < 0) throw lastError(status);
    this.#params = merged;
  }

  setRate(fps: number): void {
    const status = native().smx_pattern_set_rate(this.#live(), requireU32("fps", fps));
    if (status < 0) throw lastError(status);
  }

  /** Changes the frame size; waits for the frame being rendered (a few ms at most). */
  resize(width: number, height: number): void {
    const handle = this.#live();
    requireU32("width", width);
    requireU32("height", height);
    const status = native().smx_pattern_resize(handle, width, height);
    if (status < 0) throw lastError(status);
  }

  /** Sets (a copy of) the overlay, or removes it with null; the next frame shows the change. */
  setOverlay(o: PatternOverlay | null): void {
    const handle = this.#live();
    let status: number;
    if (o === null) {
      status = native().smx_pattern_set_overlay(handle, null, 0, 0, 0, 0);
    } else {
      requireU32("size", o.size);
      if (o.modules.length !== o.size * o.size) {
        throw new InvalidArgumentError(
          Status.INVALID_ARG,
          `overlay: ${o.modules.length} modules for size ${o.size} (need ${o.size * o.size})`,
        );
      }
      status = native().smx_pattern_set_overlay(
        handle,
        o.modules as Uint8Array<ArrayBuffer>,
        o.size,
        requireU32("x", o.x),
        requireU32("y", o.y),
        requireU32("scale", o.scale),
      );
    }
    if (status < 0) throw lastError(status);
  }

  stats(): PatternStats {
    const out = new BigUint64Array(4);
    const status = native().smx_pattern_stats(this.#live(), out);
    if (status < 0) throw lastError(status);
    const [framesSent, framesLate, renderUsAvg, renderUsMax] = [...out].map(Number);
    return { framesSent, framesLate, renderUsAvg, renderUsMax };
  }

  /** Stops the thread (within one frame + 20 ms) and removes the ring. Idempotent. */
  stop(): void {
    if (!this.#handle) return;
    native().smx_pattern_stop(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/**
 * Frame stamp reader/writer (runtime-neutral: the browser uses it to read latency off decoded
 * frames, tests use it to check the native writer). TypeScript twin of ffi/native/stamp.c; the
 * spec is docs/frame-ring.md#frame-stamp:
 *
 * - a band of 2 rows x 40 cells from y = 0 across the full width; cell i spans
 *   x in [floor(i*W/40), floor((i+1)*W/40)), each row is max(2, round(W/40)) pixels tall;
 * - row 0: frame number (32 bits, MSB first) then CRC-8 (poly 0x07, init 0) of
 *   frame(BE32) || timeLow(BE32); row 1: capture µs mod 2^32 then the marker 0xA5;
 * - bit 1 = white, 0 = black. Readers average the luma of the middle half of each cell and
 *   threshold at 128, so the band survives H.264 and a downscale to 320 px wide.
 */

export const STAMP_CELLS = 40;
export const STAMP_ROWS = 2;
export const STAMP_MARKER = 0xa5;

/** Channel order of the pixels: 4 bytes per pixel for rgba/bgra, 3 for rgb. */
export type StampChannels = "rgba" | "bgra" | "rgb";

export interface StampLayout {
  /** Bytes per row; defaults to width × bytes per pixel. */
  stride?: number;
  channels: StampChannels;
}

export interface Stamp {
  /** Frame number modulo 2^32. */
  frame: number;
  /** Capture time, µs since the Unix epoch (widened from its low 32 bits). */
  captureUs: number;
}

const TWO_32 = 2 ** 32;

/** Height in pixels of the stamp band for a frame `width` pixels wide. */
export function stampBandHeight(width: number): number {
  return STAMP_ROWS * Math.max(2, Math.round(width / STAMP_CELLS));
}

function crc8(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let b = 0; b < 8; b++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function stampCrc(frame: number, timeLow: number): number {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, frame >>> 0);
  view.setUint32(4, timeLow >>> 0);
  return crc8(bytes);
}

function cellX(i: number, width: number): number {
  return Math.floor((i * width) / STAMP_CELLS);
}

function bytesPerPixel(channels: StampChannels): number {
  return channels === "rgb" ? 3 : 4;
}

function geometry(pixels: Uint8Array, width: number, height: number, layout: StampLayout) {
  const bpp = bytesPerPixel(layout.channels);
  const stride = layout.stride ?? width * bpp;
  const cellH = stampBandHeight(width) / STAMP_ROWS;
  const ok = Number.isInteger(width) && Number.isInteger(height) && width >= STAMP_CELLS &&
    height >= 2 * cellH && stride >= width * bpp && pixels.length >= stride * (2 * cellH - 1) +
        width * bpp;
  return { bpp, stride, cellH, ok };
}

/** The 32-bit-value-plus-trailer bits of each row, MSB first, as 40 booleans. */
function rowBits(value: number, trailer: number): boolean[] {
  const bits: boolean[] = [];
  for (let i = 31; i >= 0; i--) bits.push(((value >>> i) & 1) === 1);
  for (let i = 7; i >= 0; i--) bits.push(((trailer >>> i) & 1) === 1);
  return bits;
}

/**
 * Draws the stamp into the top of `pixels`. Throws RangeError when the frame is narrower than
 * 40 pixels or shorter than the band.
 */
export function writeStamp(
  pixels: Uint8Array,
  width: number,
  height: number,
  stamp: Stamp,
  layout: StampLayout = { channels: "rgba" },
): void {
  const { bpp, stride, cellH, ok } = geometry(pixels, width, height, layout);
  if (!ok) throw new RangeError(`a ${width}x${height} frame cannot hold a frame stamp`);
  const frame = stamp.frame >>> 0;
  const timeLow = ((stamp.captureUs % TWO_32) + TWO_32) % TWO_32;
  const rows = [rowBits(frame, stampCrc(frame, timeLow)), rowBits(timeLow, STAMP_MARKER)];
  for (let r = 0; r < STAMP_ROWS; r++) {
    const first = r * cellH * stride;
    for (let i = 0; i < STAMP_CELLS; i++) {
      const v = rows[r][i] ? 255 : 0;
      for (let x = cellX(i, width); x < cellX(i + 1, width); x++) {
        const o = first + x * bpp;
        pixels[o] = pixels[o + 1] = pixels[o + 2] = v;
        if (bpp === 4) pixels[o + 3] = 255;
      }
    }
    for (let y = 1; y < cellH; y++) {
      pixels.copyWithin(first + y * stride, first, first + width * bpp);
    }
  }
}

/** Mean luma of the middle half of a cell, thresholded at 128. */
function readBit(
  pixels: Uint8Array,
  stride: number,
  bpp: number,
  redFirst: boolean,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
): number {
  const qx = Math.floor((x1 - x0) / 4), qy = Math.floor((y1 - y0) / 4);
  const ri = redFirst ? 0 : 2, bi = 2 - ri;
  let sum = 0, n = 0;
  for (let y = y0 + qy; y < y1 - qy; y++) {
    for (let x = x0 + qx; x < x1 - qx; x++, n++) {
      const o = y * stride + x * bpp;
      sum += 77 * pixels[o + ri] + 150 * pixels[o + 1] + 29 * pixels[o + bi];
    }
  }
  return n > 0 && sum >= 128 * 256 * n ? 1 : 0;
}

/** The 64-bit µs value congruent to `low` (mod 2^32) nearest to `nowUs` (ties go below). */
export function widenTime(low: number, nowUs: number): number {
  const now = Math.round(nowUs);
  const nowLow = ((now % TWO_32) + TWO_32) % TWO_32;
  let delta = low - nowLow; // in (-2^32, 2^32): fold into [-2^31, 2^31)
  if (delta >= TWO_32 / 2) delta -= TWO_32;
  else if (delta < -TWO_32 / 2) delta += TWO_32;
  return now + delta;
}

/** Wall-clock µs: performance.timeOrigin + now() where available (finer than Date.now()). */
function clockUs(): number {
  const perf = globalThis.performance;
  if (perf?.timeOrigin) return Math.round((perf.timeOrigin + perf.now()) * 1000);
  return Date.now() * 1000;
}

/**
 * Reads the stamp of a frame (the decoded picture at whatever size it arrived), or null when
 * there is none or it is damaged (marker or CRC mismatch). `nowUs` is the clock the capture time
 * is widened against (default: this runtime's wall clock in µs).
 */
export function readStamp(
  pixels: Uint8Array,
  width: number,
  height: number,
  layout: StampLayout & { nowUs?: number },
): Stamp | null {
  const { bpp, stride, cellH, ok } = geometry(pixels, width, height, layout);
  if (!ok) return null;
  const redFirst = layout.channels !== "bgra";
  const values = [0, 0], trailers = [0, 0];
  for (let r = 0; r < STAMP_ROWS; r++) {
    let value = 0, trailer = 0;
    for (let i = 0; i < STAMP_CELLS; i++) {
      const bit = readBit(
        pixels,
        stride,
        bpp,
        redFirst,
        cellX(i, width),
        cellX(i + 1, width),
        r * cellH,
        (r + 1) * cellH,
      );
      if (i < 32) value = value * 2 + bit;
      else trailer = trailer * 2 + bit;
    }
    values[r] = value;
    trailers[r] = trailer;
  }
  const [frame, timeLow] = values;
  if (trailers[1] !== STAMP_MARKER || trailers[0] !== stampCrc(frame, timeLow)) return null;
  return { frame, captureUs: widenTime(timeLow, layout.nowUs ?? clockUs()) };
}

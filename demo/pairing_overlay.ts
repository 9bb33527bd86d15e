/**
 * The pairing QR in the demo engine's main output: what smx writes into the Smx.Pairing.*
 * channels (docs/engine-protocol.md, "Channels smx writes") turned into a pattern-sender overlay,
 * and where it goes in the picture.
 *
 * Placement: the bottom-right corner, a margin of 2 % of the height from both edges, so the
 * frame stamp (a band across the top) stays readable and the middle, where the demo cursor lives,
 * stays free. Pixels per module: as many as fit 40 % of the picture height (quiet zone included),
 * at least 3 when the frame has room for that; 1280×720 and a 37-module QR: 6 px, 270 px square.
 */
import type { ParamValue } from "../protocol/params.ts";
import { stampBandHeight } from "../protocol/stamp.ts";
import { PAIRING_CHANNELS, parseQrChannel } from "../server/engine/pairing_channels.ts";

/** Quiet zone around the modules, in modules (ffi/pattern.ts OVERLAY_QUIET, SMX_PATTERN_QUIET). */
export const QUIET_MODULES = 4;
/** The overlay's side is at most this fraction of the picture height, when 3 px modules fit. */
export const MAX_HEIGHT_FRACTION = 0.4;
export const MIN_SCALE = 3;
const MAX_SCALE = 64;

export interface QrPlacement {
  /** Top-left pixel of the quiet zone. */
  x: number;
  y: number;
  /** Pixels per module. */
  scale: number;
  /** Side of the whole overlay in pixels, quiet zone included. */
  side: number;
}

/** Where a `size`-module QR goes in a width×height picture; null when not even 1 px fits. */
export function qrPlacement(width: number, height: number, size: number): QrPlacement | null {
  const n = size + 2 * QUIET_MODULES;
  const margin = Math.max(2, Math.round(height * 0.02));
  // Largest scale that fits below the stamp band and inside the width, margins kept.
  const room = Math.min(height - stampBandHeight(width) - 2 * margin, width - 2 * margin);
  const fit = Math.floor(room / n);
  let scale = Math.floor((MAX_HEIGHT_FRACTION * height) / n);
  if (scale < MIN_SCALE) scale = MIN_SCALE; // scannable first; bounded by `fit` below
  scale = Math.min(scale, fit, MAX_SCALE);
  if (scale < 1) return null;
  const side = n * scale;
  return { x: width - margin - side, y: height - margin - side, scale, side };
}

/** The QR the engine should show now, or null (Show false, no or malformed QR). */
export function pairingQr(
  get: (path: string) => ParamValue | undefined,
): { size: number; modules: Uint8Array } | null {
  if (get(PAIRING_CHANNELS.show) !== true) return null;
  return parseQrChannel(get(PAIRING_CHANNELS.qr));
}

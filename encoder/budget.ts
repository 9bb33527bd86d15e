/**
 * The machine's encode budget: how many sessions and how many encoded pixels per second smx takes
 * on before it serves new demand from renditions that already run. Without it one page asking for
 * every size and rate of every source starts a session for each and starves everyone's encoder.
 *
 * The pixel rate is measured at start-up (a short libx264/NVENC run on a synthetic picture) or
 * configured; the session cap protects NVENC on consumer cards (a few sessions each). Sessions of
 * a cheaper codec count by their cost in H.264 pixels (codecWeight).
 */
import { H264Encoder } from "../ffi/encoder.ts";
import type { VideoCodec } from "../protocol/video.ts";
import { pixelRate, type Rendition } from "../protocol/size_classes.ts";

export interface EncodeBudget {
  /** Concurrent encode sessions. */
  maxSessions: number;
  /** Encoded pixels per second over all sessions (width × height × fps). */
  pixelsPerSecond: number;
}

export const DEFAULT_MAX_SESSIONS = 8;
/** Share of the encoding cores the budget fills: the rest absorbs bursts (IDRs, scaling). */
const HEADROOM = 0.75;

/**
 * JPEG's encode cost per megapixel as a share of x264's, measured by scripts/bench_jpeg.ts on the
 * bench scene at 720p ("h264_ms_per_mpx": 5.633 vs jpeg ~1.93 ms/Mpx, conversion included).
 * Measured against libx264; where the budget was measured on NVENC the share is only a guess.
 */
export const JPEG_COST_PER_H264 = 0.34;

/** A session's encode cost relative to H.264 Main. Baseline (CAVLC) costs about what Main does. */
export function codecWeight(codec: VideoCodec): number {
  return codec === "jpeg" ? JPEG_COST_PER_H264 : 1;
}

/** A rendition in a codec (absent codec: H.264 Main), as the budget counts sessions. */
export interface BudgetedRendition extends Rendition {
  codec?: VideoCodec;
}

/** What a session costs the budget: its pixel rate in H.264-equivalent pixels per second. */
export function budgetedPixelRate(r: BudgetedRendition): number {
  return pixelRate(r) * codecWeight(r.codec ?? "h264");
}

/** Whether one more session at `r` fits beside `running`. */
export function fitsBudget(
  b: EncodeBudget,
  running: BudgetedRendition[],
  r: BudgetedRendition,
): boolean {
  if (running.length + 1 > b.maxSessions) return false;
  const load = running.reduce((sum, x) => sum + budgetedPixelRate(x), 0);
  return load + budgetedPixelRate(r) <= b.pixelsPerSecond;
}

/** Cores given to encoding: one is left to the engine, the browser and smx itself. */
export function encodingCores(cores = navigator.hardwareConcurrency || 2): number {
  return Math.max(1, cores - 1);
}

/** The budget for an encoder that costs `msPerMegapixel` on each of `cores` cores. */
export function budgetFromCost(
  msPerMegapixel: number,
  cores = encodingCores(),
  maxSessions = DEFAULT_MAX_SESSIONS,
): EncodeBudget {
  const pixelsPerSecond = (cores * 1000 * HEADROOM / Math.max(msPerMegapixel, 0.01)) * 1e6;
  return { maxSessions, pixelsPerSecond: Math.round(pixelsPerSecond) };
}

/**
 * Measures the preferred encoder's cost on a moving synthetic 640x360 picture (gradients and
 * edges: cheaper than camera noise, dearer than a flat test card) and returns ms per megapixel.
 * Small frames carry more per-call overhead than big ones, so the figure errs on the safe side.
 */
export async function measureEncodeCost(preference?: string[]): Promise<number> {
  const w = 640, h = 360, frames = 24;
  using enc = await H264Encoder.open({ width: w, height: h, fps: 60, preference });
  const px = new Uint8Array(w * h * 4);
  const times: number[] = [];
  for (let i = 0; i < frames; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        px[o] = (x + i * 7) & 255;
        px[o + 1] = (y * 3 + i * 5) & 255;
        px[o + 2] = ((x ^ y) + i * 11) & 255;
        px[o + 3] = 255;
      }
    }
    const f = await enc.encodeRgba(px, w, h, { format: "rgba", frame: i, captureUs: 0 });
    if (f && i >= 4) times.push(f.convertMs + f.encodeMs); // after the encoder warmed up
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 10;
  return median / (w * h / 1e6);
}

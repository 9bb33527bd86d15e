/**
 * Demand rounding: tiles ask for whatever their on-screen size × devicePixelRatio is; rounding it
 * to a few classes lets close demands share one encoder (one encode per rendition, whoever asks).
 */

/** Output widths on offer, ascending. 4:2:0 needs even sizes; H.264 level 4.2 caps 1080p-ish. */
export const WIDTH_CLASSES = [320, 480, 640, 960, 1280, 1920, 2560, 3840] as const;
/** Frame rates on offer, ascending. */
export const FPS_CLASSES = [15, 30, 60] as const;

export interface Rendition {
  width: number;
  height: number;
  fps: number;
}

/**
 * 4:2:0 needs even sizes. Round DOWN: an odd source (1917x1079) is cropped by its last column and
 * row (1916x1078), never stretched by one pixel, which would resample the whole picture.
 */
function even(n: number): number {
  return Math.max(2, Math.floor(n / 2) * 2);
}

/**
 * The rendition to encode for a demand of `wantWidth × wantHeight @ wantFps` on a source of
 * `srcWidth × srcHeight @ srcFps`: the smallest width class that covers the demand (so the tile is
 * never upscaled by the browser), never wider than the source, keeping the source's aspect.
 */
export function renditionFor(
  want: Rendition,
  src: Rendition,
): Rendition {
  if (!(src.width > 0 && src.height > 0)) throw new RangeError("source has no size yet");
  const aspect = src.width / src.height;
  // The tile may be letterboxed: the picture's drawn width is bounded by both demand dimensions.
  const drawnWidth = Math.min(want.width, want.height * aspect);
  const cls = WIDTH_CLASSES.find((w) => w >= drawnWidth) ?? WIDTH_CLASSES.at(-1)!;
  const width = even(Math.min(cls, src.width));
  // The source's own width keeps its own height (1917x1079 → 1916x1078); a scaled width rounds.
  const height = width >= src.width - 1
    ? even(src.height)
    : even(Math.min(src.height, Math.round(width / aspect)));
  const fpsCls = FPS_CLASSES.find((f) => f >= want.fps) ?? FPS_CLASSES.at(-1)!;
  const fps = Math.max(1, Math.min(fpsCls, Math.round(src.fps || fpsCls)));
  return { width, height, fps };
}

/** Validates a demand coming from the wire; returns a message for the client or null. */
export function demandError(d: { width: unknown; height: unknown; fps: unknown }): string | null {
  for (const [k, max] of [["width", 8192], ["height", 8192], ["fps", 240]] as const) {
    const v = d[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 1 || v > max) {
      return `${k} must be a number from 1 to ${max}, got ${JSON.stringify(v)}`;
    }
  }
  return null;
}

/** Pixels encoded per second by a rendition (the encoder's cost grows with it). */
export function pixelRate(r: Rendition): number {
  return r.width * r.height * r.fps;
}

/**
 * Every rendition at or below the demand's, most expensive first: the steps a viewer can be moved
 * down (a slow link, a slow decoder, a spent encode budget) and back up, ordered by pixel rate
 * (which both encode cost and bitrate follow), the higher fps first on a tie.
 */
export function renditionLadder(want: Rendition, src: Rendition): Rendition[] {
  const top = renditionFor(want, src);
  const out = new Map<string, Rendition>();
  const widths = WIDTH_CLASSES.filter((w) => w < top.width);
  const fpss = FPS_CLASSES.filter((f) => f <= top.fps);
  if (!fpss.includes(top.fps as (typeof FPS_CLASSES)[number])) fpss.push(top.fps as 15);
  for (const w of [top.width, ...widths]) {
    for (const fps of fpss) {
      const r = renditionFor({ width: w, height: 1e6, fps }, src);
      out.set(`${r.width}x${r.height}@${r.fps}`, r);
    }
  }
  return [...out.values()].sort((a, b) => pixelRate(b) - pixelRate(a) || b.fps - a.fps);
}

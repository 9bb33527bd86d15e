/**
 * `object-fit: contain` as arithmetic, shared by drawing (where the canvas goes inside its tile)
 * and pointer mapping (where a pointer lands on the picture), so the two can never disagree.
 */

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The largest rect of the picture's aspect that fits `boxW × boxH`, centred. */
export function containRect(boxW: number, boxH: number, picW: number, picH: number): Rect {
  if (!(boxW > 0 && boxH > 0 && picW > 0 && picH > 0)) return { x: 0, y: 0, w: 0, h: 0 };
  const scale = Math.min(boxW / picW, boxH / picH);
  const w = picW * scale;
  const h = picH * scale;
  return { x: (boxW - w) / 2, y: (boxH - h) / 2, w, h };
}

export interface PicturePoint {
  /** 0..1 across the picture, left to right (clamped). */
  x: number;
  /** 0..1 down the picture, top to bottom (clamped; y down, texture space). */
  y: number;
  /** The point lies on the picture, not on the letterbox bars. */
  inside: boolean;
}

/** Maps a point in box coordinates (CSS px from the box's top-left) into the picture. */
export function toPicture(px: number, py: number, r: Rect): PicturePoint {
  if (!(r.w > 0 && r.h > 0)) return { x: 0, y: 0, inside: false };
  const u = (px - r.x) / r.w;
  const v = (py - r.y) / r.h;
  const inside = u >= 0 && u <= 1 && v >= 0 && v <= 1;
  return { x: Math.min(1, Math.max(0, u)), y: Math.min(1, Math.max(0, v)), inside };
}

/**
 * The moving test scene of the encode benchmarks (bench_encode.ts has the same picture): a
 * gradient background drifting in colour, solid shapes on Lissajous paths, a scrolling text-like
 * band of fine detail. Rendered content, not camera noise.
 */

/** One BGRA frame of the scene at time step t. */
export function renderFrame(w: number, h: number, t: number): Uint8Array<ArrayBuffer> {
  const px = new Uint8Array(w * h * 4);
  const u32 = new Uint32Array(px.buffer);
  const blue = Math.round(128 + 60 * Math.sin(t * 0.07));
  for (let y = 0; y < h; y++) {
    const g = Math.round((y * 255) / h);
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const r = Math.round((x * 255) / w);
      u32[row + x] = 0xff000000 | (r << 16) | (g << 8) | blue; // BGRA in memory
    }
  }
  // A text-like band of fine detail scrolling sideways (a UI or caption over the scene).
  const bandY = Math.round(h * 0.7), bandH = Math.round(h / 10);
  for (let y = bandY; y < bandY + bandH; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x + t * 3;
      const on = ((sx >> 2) * 7 + (y >> 2) * 13) % 11 < 4 && (sx % 96) < 80;
      if (on) u32[y * w + x] = 0xfff0f0f0;
    }
  }
  // Solid shapes moving along Lissajous paths at a few pixels per frame.
  const size = Math.round(h / 9);
  for (let i = 0; i < 8; i++) {
    const cx = Math.round(w / 2 + (w / 2.6) * Math.sin(t * (0.011 + i * 0.003) * 4 + i));
    const cy = Math.round(h / 2 + (h / 2.8) * Math.cos(t * (0.013 + i * 0.002) * 4 + i * 2));
    const colour = 0xff000000 | ((i * 97 + 60) & 255) << 16 | ((i * 53 + 30) & 255) << 8 |
      ((i * 31 + 200) & 255);
    for (let y = Math.max(0, cy - size); y < Math.min(h, cy + size); y++) {
      for (let x = Math.max(0, cx - size); x < Math.min(w, cx + size); x++) {
        const dx = x - cx, dy = y - cy;
        if (i % 2 === 1 || dx * dx + dy * dy < size * size) u32[y * w + x] = colour;
      }
    }
  }
  return px;
}

/** How many columns show n pictures of one aspect biggest in a W × H area (letterbox least). */
import { containRect } from "./letterbox.ts";

export function bestColumns(n: number, w: number, h: number, aspect = 16 / 9): number {
  if (n <= 1 || !(w > 0 && h > 0)) return 1;
  let best = 1;
  let bestArea = -1;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const r = containRect(w / cols, h / rows, aspect, 1);
    const area = r.w * r.h;
    if (area > bestArea + 1e-6) {
      bestArea = area;
      best = cols;
    }
  }
  return best;
}

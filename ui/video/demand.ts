/**
 * A tile's demand: its on-screen size in device pixels (ResizeObserver, device-pixel box when the
 * browser has it, else CSS size × devicePixelRatio), whether any of it is on screen
 * (IntersectionObserver) and whether the page is visible. Hidden or off-screen tiles ask for
 * nothing. A new demand is passed on only when its rendition (size class) changes, so close
 * sizes share an encoder and a window drag does not re-key the stream at every pixel.
 */
import { type Rendition, renditionFor } from "../../protocol/size_classes.ts";
import type { SourceInfo, VideoDemand } from "../transport/types.ts";

/** How long a new size must hold before the stream is re-keyed for it. */
export const RESIZE_SETTLE_MS = 150;

export interface BoxSize {
  /** CSS pixels (for layout and pointer mapping). */
  cssWidth: number;
  cssHeight: number;
  /** Device pixels (for demand). */
  width: number;
  height: number;
}

/** The rendition a demand maps to (null: none). */
export function renditionKey(d: VideoDemand | null, src: SourceInfo): string {
  if (!d) return "none";
  let r: Rendition;
  try {
    r = renditionFor(d, { width: src.width, height: src.height, fps: src.fps });
  } catch {
    r = d; // the source has no size yet: compare raw demands
  }
  return `${r.width}x${r.height}@${r.fps}`;
}

export class DemandTracker {
  #ro: ResizeObserver;
  #io: IntersectionObserver;
  #box: BoxSize = { cssWidth: 0, cssHeight: 0, width: 0, height: 0 };
  #onScreen = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #key = "none";
  #last: VideoDemand | null = null;

  constructor(
    private el: HTMLElement,
    private source: () => SourceInfo,
    private onDemand: (d: VideoDemand | null) => void,
    private onBox: (b: BoxSize) => void,
  ) {
    this.#ro = new ResizeObserver((entries) => {
      const e = entries[entries.length - 1];
      const css = e.contentRect;
      const dev = e.devicePixelContentBoxSize?.[0];
      this.#box = {
        cssWidth: css.width,
        cssHeight: css.height,
        width: dev ? dev.inlineSize : Math.round(css.width * devicePixelRatio),
        height: dev ? dev.blockSize : Math.round(css.height * devicePixelRatio),
      };
      this.onBox(this.#box);
      this.#update(false);
    });
    try {
      this.#ro.observe(el, { box: "device-pixel-content-box" });
    } catch {
      this.#ro.observe(el);
    }
    this.#io = new IntersectionObserver((entries) => {
      this.#onScreen = entries[entries.length - 1].isIntersecting;
      this.#update(true);
    });
    this.#io.observe(el);
    document.addEventListener("visibilitychange", this.#onVisibility);
  }

  /** The current demand (what was last passed on). */
  get demand(): VideoDemand | null {
    return this.#last;
  }

  get box(): BoxSize {
    return this.#box;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#ro.disconnect();
    this.#io.disconnect();
    document.removeEventListener("visibilitychange", this.#onVisibility);
  }

  #onVisibility = (): void => this.#update(true);

  #want(): VideoDemand | null {
    const b = this.#box;
    if (!this.#onScreen || document.visibilityState === "hidden") return null;
    if (b.width < 2 || b.height < 2) return null;
    return { width: b.width, height: b.height, fps: this.source().fps || 60 };
  }

  #update(immediate: boolean): void {
    const want = this.#want();
    const key = renditionKey(want, this.source());
    clearTimeout(this.#timer);
    if (key === this.#key) return;
    // Showing up or going away acts at once; a size change within visibility waits to settle.
    if (immediate || !want || this.#key === "none") return this.#apply(want, key);
    this.#timer = setTimeout(
      () => this.#apply(this.#want(), renditionKey(this.#want(), this.source())),
      RESIZE_SETTLE_MS,
    );
  }

  #apply(want: VideoDemand | null, key: string): void {
    this.#key = key;
    this.#last = want;
    this.onDemand(want);
  }
}

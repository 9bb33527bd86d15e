/**
 * Draws decoded frames, newest first, never a queue:
 *  - a frame is drawn the moment it is decoded (waiting for requestAnimationFrame would add up to
 *    a display interval for nothing; the compositor picks the canvas up at its next frame);
 *  - unless a newer frame is already in the decoder (this one is stale: it is held, and dropped
 *    when the newer one comes), or two frames were drawn in this display interval already (the
 *    source is faster than the display); a held frame is drawn at the next animation frame if
 *    nothing newer came;
 *  - every picture is closed exactly once.
 */
import { nowMs, type TileStats } from "./stats.ts";

/** A decoded picture: a VideoFrame (WebCodecs, the WASM decoder) or an ImageBitmap (JPEG). */
export type Picture = VideoFrame | ImageBitmap;

function pictureSize(p: Picture): { w: number; h: number } {
  return "displayWidth" in p ? { w: p.displayWidth, h: p.displayHeight } : {
    w: p.width,
    h: p.height,
  };
}

/**
 * "2d": CanvasRenderingContext2D.drawImage(VideoFrame), synchronous (the default: measured
 * steadier and cheaper here, see ui/README.md). "bitmap": ImageBitmapRenderingContext fed by
 * createImageBitmap(VideoFrame), asynchronous.
 */
export type RendererKind = "2d" | "bitmap";

/** More draws than this in one display interval only burn CPU: the extra frames wait. */
export const MAX_DRAWS_PER_INTERVAL = 2;

export interface FrameMeta {
  captureUs: number;
  frame: number;
  /** When the decoder delivered it (ms, nowMs clock). */
  decodedMs: number;
}

export class Presenter {
  #ctx2d: CanvasRenderingContext2D | null = null;
  #ctxBitmap: ImageBitmapRenderingContext | null = null;
  #pending: Picture | null = null;
  #pendingMeta: FrameMeta = { captureUs: 0, frame: -1, decodedMs: 0 };
  /** Draws since the last animation frame. */
  #draws = 0;
  #busy = false; // a bitmap conversion is in flight
  #raf = 0;
  #closed = false;
  #w = 0;
  #h = 0;
  #onNextDraw: (() => void) | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly kind: RendererKind,
    private stats: TileStats,
    private onPictureSize: (w: number, h: number) => void,
  ) {
    if (kind === "bitmap") {
      this.#ctxBitmap = canvas.getContext("bitmaprenderer");
    } else {
      this.#ctx2d = canvas.getContext("2d", { alpha: false, desynchronized: true });
    }
    stats.renderer = kind;
  }

  /** Takes ownership of `frame`; `newerComing`: the decoder holds a newer frame already. */
  push(frame: Picture, meta: FrameMeta, newerComing = false): void {
    if (this.#closed) {
      frame.close();
      return;
    }
    if (this.#pending) {
      this.#pending.close();
      this.#pending = null;
      this.stats.droppedUndrawn++;
    }
    if (newerComing || this.#busy || this.#draws >= MAX_DRAWS_PER_INTERVAL) {
      this.#pending = frame;
      this.#pendingMeta = meta;
    } else {
      this.#draw(frame, meta);
    }
    this.#schedule();
  }

  /** Calls `cb` once, after the next frame is drawn (for status changes, not per frame). */
  onNextDraw(cb: () => void): void {
    this.#onNextDraw = cb;
  }

  close(): void {
    this.#closed = true;
    if (this.#raf) cancelAnimationFrame(this.#raf);
    this.#raf = 0;
    this.#pending?.close();
    this.#pending = null;
  }

  #schedule(): void {
    if (!this.#raf && !this.#closed) this.#raf = requestAnimationFrame(this.#tick);
  }

  #tick = (): void => {
    this.#raf = 0;
    const active = this.#draws > 0;
    this.#draws = 0;
    if (this.#pending && !this.#busy) {
      const f = this.#pending;
      this.#pending = null;
      this.#draw(f, this.#pendingMeta);
    }
    // Keep ticking while frames flow, so the per-interval count stays right; stop when idle
    // (no rAF loop for a paused tile).
    if (active || this.#draws > 0 || this.#pending || this.#busy) this.#schedule();
  };

  #drawn(t0: number, t1: number, meta: FrameMeta): void {
    this.stats.draw.push(t1 - t0);
    this.stats.drawn(t1, meta.captureUs, meta.frame);
    const cb = this.#onNextDraw;
    if (cb) {
      this.#onNextDraw = null;
      cb();
    }
  }

  #resize(w: number, h: number): void {
    if (w === this.#w && h === this.#h) return;
    this.#w = w;
    this.#h = h;
    this.canvas.width = w;
    this.canvas.height = h;
    this.onPictureSize(w, h);
  }

  #draw(frame: Picture, meta: FrameMeta): void {
    this.#draws++;
    const t0 = nowMs();
    this.stats.wait.push(t0 - meta.decodedMs);
    const size = pictureSize(frame);
    this.#resize(size.w, size.h);
    if (this.#ctx2d) {
      try {
        this.#ctx2d.drawImage(frame, 0, 0, this.#w, this.#h);
        this.#drawn(t0, nowMs(), meta);
      } finally {
        frame.close();
      }
      return;
    }
    const ctx = this.#ctxBitmap;
    if (!ctx) {
      frame.close();
      return;
    }
    this.#busy = true;
    createImageBitmap(frame).then(
      (bmp) => {
        frame.close();
        this.#busy = false;
        if (this.#closed) {
          bmp.close();
          return;
        }
        ctx.transferFromImageBitmap(bmp);
        this.#drawn(t0, nowMs(), meta);
        // A newer frame came while converting: draw it now if this interval allows.
        const next = this.#pending;
        if (next && this.#draws < MAX_DRAWS_PER_INTERVAL) {
          this.#pending = null;
          this.#draw(next, this.#pendingMeta);
        }
        this.#schedule();
      },
      () => {
        frame.close();
        this.#busy = false;
      },
    );
  }
}

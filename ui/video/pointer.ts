/**
 * Pointer forwarding: the pointer over a tile becomes writes to the source's pointer
 * sub-channels (MouseX/MouseY 0..1 in texture space with the letterbox excluded and y down,
 * Buttons bit mask, Wheel accumulated notches, IsOver), coalesced to at most one write per
 * changed channel per animation frame. Only changes are written.
 *
 * Touch and pen drive it like a mouse with its left button: a tap is a press and a release (the
 * press is sent even when both land within one frame), a drag moves the cursor while pressed, and
 * IsOver is true only while the finger is down. Only the primary pointer counts (a second finger
 * does not move the cursor). CSS gives the picture `touch-action: none`, so a drag on it never
 * scrolls or zooms the page; a pointercancel releases.
 */
import type { ParamSource, ParamValue, PointerPaths } from "../transport/types.ts";
import { type Rect, toPicture } from "./letterbox.ts";

/** Pixels per wheel notch for pixel-mode wheel events (Chromium reports 100 per notch). */
const PX_PER_NOTCH = 100;

export function wheelNotches(e: { deltaY: number; deltaMode: number }): number {
  const lines = e.deltaMode === 1
    ? e.deltaY / 3
    : e.deltaMode === 2
    ? e.deltaY
    : e.deltaY / PX_PER_NOTCH;
  return -lines; // wheel up / away from the user counts up
}

interface PointerState {
  x: number;
  y: number;
  buttons: number;
  wheel: number;
  isOver: boolean;
}

export class PointerForwarder {
  #want: PointerState = { x: 0.5, y: 0.5, buttons: 0, wheel: 0, isOver: false };
  #sent: Partial<PointerState> = {};
  #wheelBase: number | null = null;
  #raf = 0;
  writes = 0;
  errors = 0;

  constructor(
    private el: HTMLElement,
    private rect: () => Rect,
    private paths: PointerPaths,
    private params: ParamSource,
  ) {
    el.addEventListener("pointerdown", this.#onDown);
    el.addEventListener("pointermove", this.#onMove);
    el.addEventListener("pointerup", this.#onUp);
    el.addEventListener("pointercancel", this.#onUp);
    el.addEventListener("pointerleave", this.#onLeave);
    el.addEventListener("wheel", this.#onWheel, { passive: false });
    el.addEventListener("contextmenu", this.#onContext);
  }

  close(): void {
    const el = this.el;
    el.removeEventListener("pointerdown", this.#onDown);
    el.removeEventListener("pointermove", this.#onMove);
    el.removeEventListener("pointerup", this.#onUp);
    el.removeEventListener("pointercancel", this.#onUp);
    el.removeEventListener("pointerleave", this.#onLeave);
    el.removeEventListener("wheel", this.#onWheel);
    el.removeEventListener("contextmenu", this.#onContext);
    if (this.#raf) cancelAnimationFrame(this.#raf);
  }

  #locate(e: PointerEvent | WheelEvent): boolean {
    const b = this.el.getBoundingClientRect();
    const p = toPicture(e.clientX - b.left, e.clientY - b.top, this.rect());
    // 1e-5 of the picture is far below a pixel even at 8K; shorter messages, fewer no-op writes.
    this.#want.x = Math.round(p.x * 1e5) / 1e5;
    this.#want.y = Math.round(p.y * 1e5) / 1e5;
    return p.inside;
  }

  #onDown = (e: PointerEvent): void => {
    if (!e.isPrimary) return;
    const inside = this.#locate(e);
    if (!inside) return;
    this.el.setPointerCapture(e.pointerId);
    this.#want.isOver = true;
    this.#want.buttons = e.pointerType === "mouse" ? e.buttons : 1;
    e.preventDefault();
    this.#schedule();
  };

  #onMove = (e: PointerEvent): void => {
    if (!e.isPrimary) return;
    const inside = this.#locate(e);
    const captured = this.el.hasPointerCapture(e.pointerId);
    this.#want.isOver = inside || captured;
    if (e.pointerType === "mouse") this.#want.buttons = captured || inside ? e.buttons : 0;
    this.#schedule();
  };

  #onUp = (e: PointerEvent): void => {
    if (!e.isPrimary) return;
    // A press not yet written (a tap within one frame) goes out before its release.
    if (this.#want.buttons !== 0 && this.#sent.buttons !== this.#want.buttons) this.#flushNow();
    const inside = this.#locate(e);
    this.#want.buttons = e.pointerType === "mouse" ? e.buttons : 0;
    this.#want.isOver = e.pointerType === "mouse" ? inside : false;
    this.#schedule();
  };

  #onLeave = (e: PointerEvent): void => {
    if (!e.isPrimary) return;
    if (this.el.hasPointerCapture(e.pointerId)) return;
    this.#want.isOver = false;
    this.#want.buttons = 0;
    this.#schedule();
  };

  #onWheel = (e: WheelEvent): void => {
    if (!this.#locate(e)) return;
    e.preventDefault();
    if (this.#wheelBase === null) {
      const v = this.params.value(this.paths.wheel).peek();
      this.#wheelBase = typeof v === "number" ? v : 0;
      this.#want.wheel = this.#wheelBase;
    }
    this.#want.wheel += wheelNotches(e);
    this.#schedule();
  };

  #onContext = (e: Event): void => e.preventDefault();

  #schedule(): void {
    if (!this.#raf) this.#raf = requestAnimationFrame(this.#flush);
  }

  #flushNow(): void {
    if (this.#raf) cancelAnimationFrame(this.#raf);
    this.#flush();
  }

  #flush = (): void => {
    this.#raf = 0;
    const w = this.#want;
    const p = this.paths;
    this.#put("isOver", p.isOver, w.isOver);
    this.#put("x", p.x, w.x);
    this.#put("y", p.y, w.y);
    this.#put("buttons", p.buttons, w.buttons);
    this.#put("wheel", p.wheel, w.wheel);
  };

  #put<K extends keyof PointerState>(k: K, path: string, v: PointerState[K]): void {
    if (!path || this.#sent[k] === v) return;
    this.#sent[k] = v;
    this.writes++;
    this.params.write(path, v as ParamValue).catch(() => {
      this.errors++;
      delete this.#sent[k]; // let the next change try again
    });
  }
}

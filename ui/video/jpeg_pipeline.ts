/**
 * The tile pipeline for JPEG streams: every frame stands alone, decoded by the browser
 * (`createImageBitmap` on a Blob: off the main thread in Chromium and Firefox, and available on
 * any page, secure context or not). Latency before completeness, as elsewhere: one picture
 * decodes while the newest one waits; a newer arrival replaces the waiting one (no reference
 * chain, so a drop costs nothing but that frame and no keyframe request is ever needed).
 */
import type { EncodedFrame, StreamInfo } from "../transport/types.ts";
import { type FramePipeline, noteStreamInfo, type PipelineDeps } from "./pipeline.ts";
import { nowMs } from "./stats.ts";

export class JpegPipeline implements FramePipeline {
  #busy = false;
  #waiting: EncodedFrame | null = null;
  #closed = false;

  constructor(private deps: PipelineDeps) {
    deps.stats.path = "jpeg";
  }

  info(i: StreamInfo): void {
    noteStreamInfo(this.deps.stats, i);
  }

  frame(f: EncodedFrame): void {
    if (this.#closed) return;
    const st = this.deps.stats;
    st.received(f.receivedMs, f.data.byteLength, f.sentUs, f.encodeMs);
    if (this.#busy) {
      if (this.#waiting) st.droppedBeforeDecode++;
      this.#waiting = f;
      st.decodeQueue = 2;
      return;
    }
    this.#decode(f);
  }

  close(): void {
    this.#closed = true;
    this.#waiting = null;
  }

  #decode(f: EncodedFrame): void {
    const st = this.deps.stats;
    this.#busy = true;
    st.decodeQueue = 1;
    // The payload is a view into the socket message; the Blob copies it.
    createImageBitmap(new Blob([f.data as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }))
      .then((bmp) => {
        if (this.#closed) {
          bmp.close();
          return;
        }
        const now = nowMs();
        st.framesDecoded++;
        st.codedWidth = bmp.width;
        st.codedHeight = bmp.height;
        st.decode.push(now - f.receivedMs);
        this.deps.presenter.push(bmp, {
          captureUs: f.captureUs,
          frame: f.frame,
          decodedMs: now,
        }, this.#waiting !== null);
      }, () => {
        st.decodeErrors++; // a damaged picture: the next one stands alone
      })
      .finally(() => {
        this.#busy = false;
        st.decodeQueue = 0;
        const next = this.#waiting;
        this.#waiting = null;
        if (next && !this.#closed) this.#decode(next);
      });
  }
}

/**
 * The video sources smx offers: the engine's frame senders (from its descriptor) when an engine
 * is linked, plus any other live frame rings found by listing (a sender without a hub still gives
 * video). Ids are the engine's stable sender ids ("main"), so a tile keeps its source across an
 * engine restart even though the ring's name (which carries the engine's pid) changes.
 */
import type { FrameSenderInfo } from "../protocol/engine_descriptor.ts";
import type { SourceInfo } from "../encoder/manager.ts";
import type { VideoSourceDescriptor } from "./hello.ts";
import { listSenders, type SenderInfo } from "../ffi/ring.ts";

const LIST_CACHE_MS = 500;

export class SourceCatalog {
  #engine: FrameSenderInfo[] = [];
  #rings: SenderInfo[] = [];
  #listedAt = 0;

  /** The linked engine's senders (empty when none is linked). */
  setEngineSenders(senders: FrameSenderInfo[]): void {
    this.#engine = senders.filter((s) => s.transport === "frame-ring");
  }

  #liveRings(): SenderInfo[] {
    const now = performance.now();
    if (now - this.#listedAt > LIST_CACHE_MS) {
      try {
        this.#rings = listSenders();
      } catch {
        this.#rings = [];
      }
      this.#listedAt = now;
    }
    return this.#rings;
  }

  list(): VideoSourceDescriptor[] {
    const rings = this.#liveRings();
    const byRing = new Map(rings.map((r) => [r.name, r]));
    const out: VideoSourceDescriptor[] = this.#engine.map((s) => {
      const live = byRing.get(s.name);
      return {
        id: s.id,
        label: s.label,
        width: live?.width ?? s.width,
        height: live?.height ?? s.height,
        fps: s.fps,
        ...(s.pointer ? { pointer: s.pointer } : {}),
      };
    });
    // Rings of their own are the discovery fallback: shown only while no engine is linked, so a
    // linked engine's page never fills with other programs' (or test runs') senders.
    if (this.#engine.length) return out;
    for (const r of rings) {
      out.push({ id: r.name, label: r.name, width: r.width, height: r.height, fps: 60 });
    }
    return out;
  }

  resolve(id: string): SourceInfo | undefined {
    const s = this.#engine.find((e) => e.id === id);
    const ringName = s?.name ?? id;
    const live = this.#liveRings().find((r) => r.name === ringName);
    if (!s && !live) return undefined;
    return {
      ring: ringName,
      width: live?.width ?? s!.width,
      height: live?.height ?? s!.height,
      fps: s?.fps ?? 60,
    };
  }
}

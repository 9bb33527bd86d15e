/**
 * The video sources smx offers: the engine's frame senders (from its descriptor) when an engine
 * is linked, plus any other live senders found by listing (a sender without a hub still gives
 * video). Ids are the engine's stable sender ids ("main"), so a tile keeps its source across an
 * engine restart even though the ring's name (which carries the engine's pid) changes.
 *
 * The platform decides the senders (encoder/frame_source.ts): frame rings on Linux, Spout senders
 * on Windows (id and reference "spout:<sender name>"), with the same demand and sessions.
 */
import type { FrameSenderInfo } from "../protocol/engine_descriptor.ts";
import type { SourceInfo } from "../encoder/manager.ts";
import type { VideoSourceDescriptor } from "./hello.ts";
import {
  type FrameSenderListing,
  listFrameSenders,
  PLATFORM_TRANSPORT,
  sourceRefOf,
} from "../encoder/frame_source.ts";

const LIST_CACHE_MS = 500;

export class SourceCatalog {
  #engine: FrameSenderInfo[] = [];
  #rings: FrameSenderListing[] = [];
  #listedAt = 0;
  #virtual?: (id: string) => SourceInfo | undefined;

  /**
   * Virtual sources (audience venues, `venue:<id>`: server/wan/venues/): resolved by `resolve`
   * before the engine's senders; not listed (pages learn them from the WAN state's `venues`).
   */
  setVirtual(resolve: (id: string) => SourceInfo | undefined): void {
    this.#virtual = resolve;
  }

  /** The linked engine's senders (empty when none is linked). */
  setEngineSenders(senders: FrameSenderInfo[]): void {
    this.#engine = senders.filter((s) => s.transport === PLATFORM_TRANSPORT);
  }

  #liveRings(): FrameSenderListing[] {
    const now = performance.now();
    if (now - this.#listedAt > LIST_CACHE_MS) {
      try {
        this.#rings = listFrameSenders();
      } catch {
        this.#rings = [];
      }
      this.#listedAt = now;
    }
    return this.#rings;
  }

  list(): VideoSourceDescriptor[] {
    const rings = this.#liveRings();
    const byRing = new Map(rings.map((r) => [r.ref, r]));
    const out: VideoSourceDescriptor[] = this.#engine.map((s) => {
      const live = byRing.get(sourceRefOf(s));
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
      out.push({ id: r.ref, label: r.name, width: r.width, height: r.height, fps: 60 });
    }
    return out;
  }

  resolve(id: string): SourceInfo | undefined {
    if (this.#virtual && id.includes(":")) {
      const v = this.#virtual(id);
      if (v) return v;
    }
    const s = this.#engine.find((e) => e.id === id);
    const ringName = s ? sourceRefOf(s) : id;
    const live = this.#liveRings().find((r) => r.ref === ringName);
    if (!s && !live) return undefined;
    return {
      ring: ringName,
      width: live?.width ?? s!.width,
      height: live?.height ?? s!.height,
      fps: s?.fps ?? 60,
    };
  }
}

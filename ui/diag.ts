/**
 * `window.__smx`: read-only diagnostics for the browser tests and the latency benchmark.
 * Every getter returns a fresh snapshot (plain data; changing it changes nothing).
 */
import type { Transports } from "./transport/select.ts";
import type { EngineStatus, SourceInfo } from "./transport/types.ts";
import type { RendererKind } from "./video/present.ts";
import type { TileSnapshot, TileStats } from "./video/stats.ts";

export interface SmxDiagnostics {
  readonly version: 1;
  readonly reach: string;
  readonly renderer: RendererKind;
  /** One entry per mounted tile. */
  readonly tiles: TileSnapshot[];
  tile(source: string): TileSnapshot | undefined;
  readonly sources: SourceInfo[];
  readonly video: { state: string };
  readonly params: {
    state: string;
    engine: EngineStatus;
    channels: number;
    rev: number;
    pendingWrites: number;
    stats: Record<string, number>;
  };
}

const tiles = new Set<TileStats>();

/** Registers a tile's stats; returns the unregister function. */
export function registerTile(s: TileStats): () => void {
  tiles.add(s);
  return () => tiles.delete(s);
}

declare global {
  interface Window {
    __smx?: SmxDiagnostics;
  }
}

export function installDiagnostics(t: Transports, renderer: RendererKind): void {
  const params = t.params as Partial<
    { rev: number; pendingWrites: number; stats: Record<string, number> }
  >;
  const d: SmxDiagnostics = {
    version: 1,
    reach: t.reach,
    renderer,
    get tiles() {
      return [...tiles].map((s) => s.snapshot());
    },
    tile(source: string) {
      for (const s of tiles) if (s.source === source) return s.snapshot();
      return undefined;
    },
    get sources() {
      return structuredClone([...t.video.sources.peek()]);
    },
    get video() {
      return { state: t.video.state.peek() };
    },
    get params() {
      return {
        state: t.params.state.peek(),
        engine: { ...t.params.engine.peek() },
        channels: t.params.channels.peek().length,
        rev: params.rev ?? -1,
        pendingWrites: params.pendingWrites ?? 0,
        stats: { ...(params.stats ?? {}) },
      };
    },
  };
  Object.defineProperty(window, "__smx", { value: Object.freeze(d), configurable: false });
}

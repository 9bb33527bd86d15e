/** smx's `GET /hello`, fetched from the page's own origin and refreshed when links come back. */
import { type ReadonlySignal, signal } from "@preact/signals";
import type { EngineState, EngineStatus, SourceInfo } from "../types.ts";

export interface Hello {
  version: string;
  engine: EngineStatus;
  sources: SourceInfo[];
  encoder: string;
}

function engineState(s: unknown): EngineState {
  if (s === "connected" || s === "live") return "connected";
  if (s === "connecting") return "connecting";
  return "offline";
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** Tolerant reading of the JSON (unknown fields ignored, missing ones defaulted). */
export function parseHello(j: unknown): Hello {
  const o = (j ?? {}) as Record<string, unknown>;
  const e = (o.engine ?? {}) as Record<string, unknown>;
  const enc = o.encoder as unknown;
  const sources: SourceInfo[] = [];
  for (const s of Array.isArray(o.sources) ? o.sources : []) {
    const r = (s ?? {}) as Record<string, unknown>;
    if (typeof r.id !== "string") continue;
    const p = r.pointer as Record<string, unknown> | undefined;
    sources.push({
      id: r.id,
      label: str(r.label, r.id),
      width: num(r.width),
      height: num(r.height),
      fps: num(r.fps) || 60,
      ...(p && typeof p.x === "string"
        ? {
          pointer: {
            x: str(p.x),
            y: str(p.y),
            buttons: str(p.buttons),
            wheel: str(p.wheel),
            isOver: str(p.isOver),
          },
        }
        : {}),
    });
  }
  return {
    version: str(o.version),
    engine: {
      state: engineState(e.state),
      name: typeof e.name === "string" ? e.name : null,
      ...(typeof e.message === "string" ? { message: e.message } : {}),
    },
    sources,
    encoder: typeof enc === "string"
      ? enc
      : str((enc as { lastUsed?: unknown } | undefined)?.lastUsed),
  };
}

export class HelloClient {
  readonly #hello = signal<Hello | null>(null);
  #inFlight: Promise<void> | null = null;

  get hello(): ReadonlySignal<Hello | null> {
    return this.#hello;
  }

  /** Fetches /hello (one request at a time); keeps the last good answer on failure. */
  refresh(): Promise<void> {
    this.#inFlight ??= (async () => {
      try {
        const r = await fetch("/hello", { cache: "no-store" });
        if (!r.ok) return;
        const next = parseHello(await r.json());
        const prev = this.#hello.peek();
        if (!prev || JSON.stringify(prev) !== JSON.stringify(next)) this.#hello.value = next;
      } catch {
        // smx unreachable: the sockets' state says so; keep what we knew.
      } finally {
        this.#inFlight = null;
      }
    })();
    return this.#inFlight;
  }
}

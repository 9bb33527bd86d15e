/** The whole page: header, connection banner, video tiles, parameter panel. */
import { signal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { Banner } from "./banner.tsx";
import { ParamPanel } from "./params/panel.tsx";
import type { Transports } from "./transport/select.ts";
import type { RendererKind } from "./video/present.ts";
import { Tile } from "./video/tile.tsx";

export const showStats = signal(false);

function columnsFor(n: number): number {
  return n <= 1 ? 1 : n <= 4 ? 2 : 3;
}

export function App({ t, renderer }: { t: Transports; renderer: RendererKind }) {
  const { video, params } = t;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const tag = (e.target as HTMLElement | null)?.tagName;
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      if (e.key === "s" && !e.ctrlKey && !e.metaKey && !e.altKey) {
        showStats.value = !showStats.value;
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
  const sources = video.sources.value;
  const engine = params.engine.value;
  return (
    <div class="app">
      <header class="bar">
        <span class="brand">smx</span>
        <span
          class={`engine engine-${engine.state}`}
          data-testid="engine-state"
          data-state={engine.state}
        >
          {engine.name ?? "engine"} · {engine.state}
        </span>
        <span class="spacer" />
        <button
          type="button"
          class={showStats.value ? "tool on" : "tool"}
          aria-pressed={showStats.value}
          title="Stats overlay (S)"
          data-testid="stats-toggle"
          onClick={() => (showStats.value = !showStats.value)}
        >
          Stats
        </button>
      </header>
      <Banner video={video} params={params} />
      <main class="stage">
        <section
          class="tiles"
          data-testid="tiles"
          style={{ "--cols": columnsFor(sources.length) }}
        >
          {sources.length === 0 && <p class="muted center">No video sources.</p>}
          {sources.map((s) => (
            <Tile
              key={s.id}
              source={s}
              video={video}
              params={params}
              renderer={renderer}
              showStats={showStats}
            />
          ))}
        </section>
        <aside class="side">
          <ParamPanel src={params} />
        </aside>
      </main>
    </div>
  );
}

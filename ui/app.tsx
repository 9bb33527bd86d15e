/** The whole page: header, connection banner, video tiles, parameter panel. */
import { signal, useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { Banner } from "./banner.tsx";
import { ParamPanel } from "./params/panel.tsx";
import type { Transports } from "./transport/select.ts";
import type { RendererKind } from "./video/present.ts";
import { bestColumns } from "./video/grid.ts";
import { Tile } from "./video/tile.tsx";
import { AddDevicePanel } from "./lan/add_device.tsx";

export const showStats = signal(false);
/** The "Add a device" dialog (pairing QR and devices), offered on the smx machine itself. */
const showAddDevice = signal(false);

/** `?tile=<source id>` (or a double-click on a tile's title) shows one output alone. */
export const solo = signal<string | null>(
  typeof location === "undefined" ? null : new URLSearchParams(location.search).get("tile"),
);

function toggleSolo(id: string): void {
  solo.value = solo.peek() === id ? null : id;
  const u = new URL(location.href);
  if (solo.value) u.searchParams.set("tile", solo.value);
  else u.searchParams.delete("tile");
  history.replaceState(null, "", u);
}

/** The tiles area's size, for choosing the column count. */
function useBoxSize(ref: { current: HTMLElement | null }) {
  const size = useSignal({ w: 0, h: 0 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(([e]) => {
      const { width, height } = e.contentRect;
      const p = size.peek();
      if (Math.abs(p.w - width) > 1 || Math.abs(p.h - height) > 1) {
        size.value = { w: width, h: height };
      }
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return size;
}

export function App({ t, renderer }: { t: Transports; renderer: RendererKind }) {
  const { video, params } = t;
  const tilesRef = useRef<HTMLElement>(null);
  const area = useBoxSize(tilesRef);
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
  // `?tile=<source>` shows one output alone, full-stage (a pop-out window; benchmarks use it).
  const only = new URLSearchParams(location.search).get("tile");
  const sources = only ? video.sources.value.filter((s) => s.id === only) : video.sources.value;
  const first = sources[0];
  const aspect = first && first.width > 0 && first.height > 0 ? first.width / first.height : 16 / 9;
  const cols = bestColumns(sources.length, area.value.w, area.value.h, aspect);
  const engine = params.engine.value;
  return (
    <div class="app">
      <header class="bar">
        <span class="brand">smx</span>
        <span
          class={`engine engine-${engine.state}`}
          data-testid="engine-state"
          data-state={engine.state}
          title={`${engine.name ?? "engine"} · ${engine.state}`}
        >
          {engine.name ?? "engine"} · {engine.state}
        </span>
        <span class="spacer" />
        {t.reach === "local" && (
          <button
            type="button"
            class="tool"
            title="Pair a tablet or phone on this network"
            data-testid="add-device-open"
            onClick={() => (showAddDevice.value = true)}
          >
            Add a device
          </button>
        )}
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
      {showAddDevice.value && <AddDevicePanel onClose={() => (showAddDevice.value = false)} />}
      <main class="stage">
        <section
          ref={tilesRef}
          class="tiles"
          data-testid="tiles"
          style={{ "--cols": cols }}
        >
          {sources.length === 0 && <p class="muted center">No video sources.</p>}
          {sources.map((s) => (
            // The source's aspect, for layouts that size a tile by its width (the phone's).
            <div
              key={s.id}
              class="tile-slot"
              style={s.width > 0 && s.height > 0 ? { "--aspect": `${s.width} / ${s.height}` } : {}}
            >
              <Tile
                source={s}
                video={video}
                params={params}
                renderer={renderer}
                showStats={showStats}
                onTitleDblClick={() => toggleSolo(s.id)}
              />
            </div>
          ))}
        </section>
        <aside class="side">
          <ParamPanel src={params} />
        </aside>
      </main>
    </div>
  );
}

/** Page tabs and collapsible groups, rendered from the spec the engine advertises. */
import { useComputed, useSignal } from "@preact/signals";
import type { ParamSource } from "../transport/types.ts";
import { ParamRow } from "./controls.tsx";
import { pagesOf } from "./model.ts";

export function ParamPanel({ src }: { src: ParamSource }) {
  const pages = useComputed(() => pagesOf(src.channels.value));
  const chosen = useSignal<string | null>(null);
  const list = pages.value;
  const live = src.state.value === "open" && src.engine.value.state === "connected";
  if (list.length === 0) {
    return (
      <section class="panel empty" data-testid="param-panel">
        <p class="muted">{src.state.value === "open" ? "No parameters yet." : "Connecting…"}</p>
      </section>
    );
  }
  const page = list.find((p) => p.name === chosen.value) ?? list[0];
  return (
    <section class="panel" data-testid="param-panel">
      {list.length > 1 && (
        <nav class="tabs" role="tablist">
          {list.map((p) => (
            <button
              key={p.name}
              type="button"
              role="tab"
              aria-selected={p === page}
              class={p === page ? "tab active" : "tab"}
              data-testid="param-tab"
              data-page={p.name}
              onClick={() => (chosen.value = p.name)}
            >
              {p.name}
            </button>
          ))}
        </nav>
      )}
      <fieldset class="page" disabled={!live} data-page={page.name}>
        {page.groups.map((g) => (
          <details key={g.name} class="group" open data-testid="param-group" data-group={g.name}>
            <summary>{g.name || page.name}</summary>
            {g.channels.map((c) => <ParamRow key={c.path} meta={c} src={src} />)}
          </details>
        ))}
      </fieldset>
    </section>
  );
}

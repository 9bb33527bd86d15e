/**
 * The engines this user may open, with their online state (an engine is online while its smx is
 * connected to the site's Centrifugo). The choice is remembered in localStorage; with one engine
 * the page skips this and opens it.
 */
import type { EngineEntry } from "../../protocol/wan.ts";

export const ENGINE_CHOICE_KEY = "smx.wan.engine";

/**
 * The engine to open without asking: `?engine=` in the URL, else the remembered one, else the only
 * one; null: ask.
 */
export function preselectEngine(
  engines: readonly EngineEntry[],
  remembered: string | null,
  fromUrl: string | null,
): string | null {
  const has = (id: string | null) => !!id && engines.some((e) => e.id === id);
  if (has(fromUrl)) return fromUrl;
  if (has(remembered)) return remembered;
  if (engines.length === 1) return engines[0].id;
  return null;
}

export function EnginePicker(
  { engines, user, onPick }: {
    engines: readonly EngineEntry[];
    user?: string;
    onPick: (id: string) => void;
  },
) {
  return (
    <div class="gate" data-testid="wan-engines">
      <div class="dialog gate-box">
        <h2>
          <span class="brand">smx</span> · choose an engine
        </h2>
        {user && <p class="muted">Signed in as {user}</p>}
        {engines.length === 0
          ? <p data-testid="wan-no-engines">No engine is shared with you yet.</p>
          : (
            <ul class="engines">
              {engines.map((e) => (
                <li key={e.id}>
                  <button
                    type="button"
                    class="tool engine-pick"
                    data-testid="wan-engine"
                    data-engine={e.id}
                    data-online={e.online}
                    onClick={() => onPick(e.id)}
                  >
                    <span class={e.online ? "dot on" : "dot"} />
                    <span class="engine-pick-label">{e.label}</span>
                    <span class="muted">{e.online ? "online" : "offline"}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
      </div>
    </div>
  );
}

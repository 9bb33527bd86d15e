/**
 * The viewer's watch page (issue 11): the on-air venues only, each titled, in the same Tile as the
 * operator's page (same decode pipeline, stamps and stats); no parameter panel, no pointer, nothing
 * writable. It needs only what a viewer's join gives: the LiveKit token (subscribe-only) and a
 * Centrifugo connection token plus an smx_state subscription token. A venue switch changes the
 * picture in place: the same LiveKit participant keeps publishing and the new output starts with an
 * IDR (server/wan/venues/README.md).
 *
 * Audience components (ui/audience/) mount beside the tiles through `watchExtras`: each gets the
 * WatchContext (the join tokens, the site API and the Centrifugo client to subscribe with).
 */
import { type ComponentChild, h, render } from "preact";
import { signal } from "@preact/signals";
import type { JoinTokens } from "../../protocol/wan.ts";
import type { VenueInfo } from "../../protocol/venues.ts";
import type { ParamSource } from "../transport/types.ts";
import type { SiteApi } from "../transport/wan/site_api.ts";
import { LiveKitVideoSource } from "../transport/wan/video_livekit.ts";
import { installDiagnostics } from "../diag.ts";
import { Tile } from "../video/tile.tsx";
import type { RendererKind } from "../video/present.ts";
import { VenueLink } from "./venue_link.ts";
import { audienceExtra } from "../audience/audience.tsx";

export interface WatchContext {
  join: JoinTokens;
  api: SiteApi;
  link: VenueLink;
}

/** Components shown under the tiles (presence, reactions): ui/audience/ pushes its own here. */
export const watchExtras: ((ctx: WatchContext) => ComponentChild)[] = [audienceExtra];

/** Viewers write nothing: the tiles get a parameter source that refuses every write. */
const READ_ONLY: ParamSource = {
  state: signal("open"),
  engine: signal({ state: "connected", name: null }),
  channels: signal([]),
  value: () => signal(undefined),
  write: () => Promise.reject(new Error("viewers cannot write parameters")),
};

const noStats = signal(false);

export function WatchApp(
  { video, link, ctx, renderer }: {
    video: LiveKitVideoSource;
    link: VenueLink;
    ctx: WatchContext;
    renderer: RendererKind;
  },
) {
  const onAir: readonly VenueInfo[] = link.onAir.value;
  const sources = link.sources.value;
  return (
    <div class="app watch" data-testid="watch">
      <header class="bar">
        <span class="brand">smx</span>
        <span class="engine" data-testid="watch-titles">
          {onAir.map((v) => v.title).join(" · ") || "Nothing on air"}
        </span>
        <span class="spacer" />
      </header>
      <main class="stage">
        <section
          class="tiles"
          data-testid="tiles"
          style={{ "--cols": Math.max(1, sources.length) }}
        >
          {sources.length === 0 && (
            <p class="muted center" data-testid="off-air">
              {link.connected.value ? "Nothing is on air right now." : "Connecting…"}
            </p>
          )}
          {sources.map((s) => (
            <div key={s.id} class="tile-slot" style={{ "--aspect": `${s.width} / ${s.height}` }}>
              <Tile
                source={s}
                video={video}
                params={READ_ONLY}
                renderer={renderer}
                showStats={noStats}
              />
            </div>
          ))}
        </section>
      </main>
      {watchExtras.length > 0 && (
        <footer class="audience" data-testid="audience">{watchExtras.map((f) => f(ctx))}</footer>
      )}
    </div>
  );
}

export interface WatchHandle {
  close(): void;
}

/** Runs the watch page in `root` on a viewer's join. */
export function startWatch(
  o: {
    root: HTMLElement;
    api: SiteApi;
    join: JoinTokens;
    renderer?: RendererKind;
    rejoin(): Promise<JoinTokens>;
    onSignedOut(login: string): void;
  },
): WatchHandle {
  const link = new VenueLink({ api: o.api, join: o.join, onSignedOut: o.onSignedOut });
  const video = new LiveKitVideoSource({ join: o.join, link, rejoin: o.rejoin });
  const ctx: WatchContext = { join: o.join, api: o.api, link };
  const renderer = o.renderer ?? "2d";
  installDiagnostics({ reach: "wan", video, params: READ_ONLY }, renderer);
  Object.defineProperty(globalThis, "__smxWatch", {
    value: Object.freeze({
      engine: o.join.engine,
      venues: () => structuredClone([...link.venues.peek()]),
      states: () => link.states,
      video: () => video.diagnostics(),
    }),
    configurable: true,
  });
  render(h(WatchApp, { video, link, ctx, renderer }), o.root);
  return {
    close() {
      render(null, o.root);
      video.close();
      link.close();
    },
  };
}

/** Whether this page should be the watch page whatever the role (`/watch` or `?watch`). */
export function watchRequested(loc: { pathname: string; search: string } = location): boolean {
  return loc.pathname === "/watch" || new URLSearchParams(loc.search).has("watch");
}

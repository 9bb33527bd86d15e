/** Entry point: pick the transports for this origin, mount the UI, expose diagnostics. */
import { render } from "preact";
import { App } from "./app.tsx";
import { installDiagnostics } from "./diag.ts";
import {
  createTransports,
  loadWan,
  pageReach,
  reachMeta,
  type Transports,
} from "./transport/select.ts";
import type { RendererKind } from "./video/present.ts";

/** Default renderer; `?renderer=2d|bitmap` overrides it (for measurements). */
const DEFAULT_RENDERER: RendererKind = "2d";

const q = new URLSearchParams(location.search).get("renderer");
const renderer: RendererKind = q === "bitmap" || q === "2d" ? q : DEFAULT_RENDERER;
const root = document.getElementById("app")!;

/** Mounts the app on a set of transports (the WAN page calls it once it has joined an engine). */
function mount(t: Transports): void {
  installDiagnostics(t, renderer);
  render(<App t={t} renderer={renderer} />, root);
}

const reach = pageReach();
if (reach === "wan") {
  // Sign-in, engine choice and tokens first; livekit-client and centrifuge load only here.
  // A page that is WAN by its hostname alone and finds no site API is smx's own (served under a
  // public-looking name): it talks to smx as a LAN page does.
  const notSite = reachMeta() ? undefined : () => mount(createTransports("lan"));
  loadWan().then((wan) => wan.startWanPage({ root, mount, notSite }), (e) => {
    root.textContent = `smx could not load its WAN code: ${(e as Error).message ?? e}`;
  });
} else {
  mount(createTransports(reach));
}

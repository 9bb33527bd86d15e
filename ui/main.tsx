/** Entry point: pick the transports for this origin, mount the UI, expose diagnostics. */
import { render } from "preact";
import { App } from "./app.tsx";
import { installDiagnostics } from "./diag.ts";
import { createTransports } from "./transport/select.ts";
import type { RendererKind } from "./video/present.ts";

/** Default renderer; `?renderer=2d|bitmap` overrides it (for measurements). */
const DEFAULT_RENDERER: RendererKind = "2d";

const q = new URLSearchParams(location.search).get("renderer");
const renderer: RendererKind = q === "bitmap" || q === "2d" ? q : DEFAULT_RENDERER;

const t = createTransports();
installDiagnostics(t, renderer);
render(<App t={t} renderer={renderer} />, document.getElementById("app")!);

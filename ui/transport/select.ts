/**
 * The origin rule: the page talks back to whatever served it. The serving origin picks the
 * transport implementations; components only ever see the VideoSource/ParamSource interfaces.
 *
 *   reach        origin                               video            params
 *   same machine localhost, 127.0.0.0/8, [::1]       local WebSocket  local WebSocket
 *   LAN          a private address / .local name      local WebSocket  local WebSocket
 *                (paired: server/lan/)                (decoded by WebCodecs where the page has it,
 *                                                     else WASM H.264 Baseline or JPEG: see
 *                                                     ui/video/paths.ts)
 *   WAN          the site (`<meta name="smx-reach"    LiveKit          Centrifugo
 *                content="wan">`), or any other name  (transport/wan/, loaded by a dynamic
 *                                                     import() only in this reach: its own chunk)
 *
 * The site marks its pages with the reach meta (REACH_META in protocol/wan.ts), which wins over
 * the hostname: a site on a private address is still the WAN reach. LAN pages use the local
 * implementations (smx serves them itself, paired: server/lan/). `createTransports` serves the
 * local and LAN reaches; a WAN page starts with `loadWan()` (sign-in, engine choice, tokens).
 */
import type { ParamSource, VideoSource } from "./types.ts";
import { HelloClient } from "./local/hello.ts";
import { LocalParamSource } from "./local/params_ws.ts";
import { sameOriginWs } from "./local/socket.ts";
import { LocalVideoSource } from "./local/video_ws.ts";
import { REACH_META } from "../../protocol/wan.ts";

export type Reach = "local" | "lan" | "wan";

export interface Transports {
  reach: Reach;
  video: VideoSource;
  params: ParamSource;
}

/** Which reach a page origin's hostname belongs to. */
export function reachOf(hostname: string): Reach {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\./.test(h)) {
    return "local";
  }
  if (
    /^10\./.test(h) || /^192\.168\./.test(h) || /^172\.(1[6-9]|2\d|3[01])\./.test(h) ||
    /^169\.254\./.test(h) || /^f[cd][0-9a-f]{2}:/.test(h) || /^fe80:/.test(h) ||
    h.endsWith(".local") || !h.includes(".")
  ) {
    return "lan";
  }
  return "wan";
}

type MetaDoc = { querySelector(sel: string): { getAttribute(n: string): string | null } | null };

/** The reach the page's `<meta name="smx-reach">` declares (the site injects `wan`), or null. */
export function reachMeta(
  doc: MetaDoc | null = typeof document === "undefined" ? null : document,
): Reach | null {
  const meta = doc?.querySelector(`meta[name="${REACH_META}"]`)?.getAttribute("content")?.trim();
  return meta === "wan" || meta === "lan" || meta === "local" ? meta : null;
}

/**
 * The page's reach: the `<meta name="smx-reach">` the site injects (`wan`; `local`/`lan` are
 * honoured too), else the hostname rule.
 */
export function pageReach(
  doc: MetaDoc | null = typeof document === "undefined" ? null : document,
  loc: { hostname: string } = location,
): Reach {
  return reachMeta(doc) ?? reachOf(loc.hostname);
}

/** The WAN reach's code (livekit-client, centrifuge), fetched only when a WAN page needs it. */
export function loadWan(): Promise<typeof import("./wan/index.ts")> {
  return import("./wan/index.ts");
}

function localTransports(reach: Reach): Transports {
  const hello = new HelloClient();
  void hello.refresh();
  const params = new LocalParamSource(sameOriginWs("/ws/params"), {
    onEngineChange: () => void hello.refresh(),
  });
  const video = new LocalVideoSource(sameOriginWs("/ws/video"), hello);
  return { reach, video, params };
}

/** The local or LAN reach's transports (a WAN page uses `loadWan()` instead). */
export function createTransports(reach: Reach = pageReach()): Transports {
  switch (reach) {
    case "local":
    case "lan":
      return localTransports(reach);
    case "wan":
      // Only reached if a caller skips loadWan(): the page then talks to its own origin, as
      // before the WAN reach existed.
      return localTransports(reach);
  }
}

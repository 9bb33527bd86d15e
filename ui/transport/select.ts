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
 *   WAN          anything else (the public server)    (LiveKit, later) (relay, later)
 *
 * Only the local implementations exist today, so every reach uses them; a LAN or WAN
 * implementation is a new folder beside `local/` and one more case in `createTransports`.
 */
import type { ParamSource, VideoSource } from "./types.ts";
import { HelloClient } from "./local/hello.ts";
import { LocalParamSource } from "./local/params_ws.ts";
import { sameOriginWs } from "./local/socket.ts";
import { LocalVideoSource } from "./local/video_ws.ts";

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

function localTransports(reach: Reach): Transports {
  const hello = new HelloClient();
  void hello.refresh();
  const params = new LocalParamSource(sameOriginWs("/ws/params"), {
    onEngineChange: () => void hello.refresh(),
  });
  const video = new LocalVideoSource(sameOriginWs("/ws/video"), hello);
  return { reach, video, params };
}

export function createTransports(loc: { hostname: string } = location): Transports {
  const reach = reachOf(loc.hostname);
  switch (reach) {
    case "local":
    case "lan":
    case "wan":
      return localTransports(reach);
  }
}

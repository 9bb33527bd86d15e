/**
 * What a page does when smx closes one of its sockets, by close code: most closes are outages
 * (reconnect with backoff); smx at its connection limit says "try again later" (1013: come back
 * slowly, not in a stampede); a LAN device whose pairing ended must not reconnect at all (the
 * socket would only be refused again) and must tell its user why.
 */
import { CLOSE_DEVICE_DISCONNECTED, CLOSE_PAIRING_EXPIRED } from "../../../protocol/lan.ts";
import type { ConnectionState } from "../types.ts";

/** WebSocket close code "Try Again Later" (RFC 6455 registry): smx is at its connection limit. */
export const TRY_AGAIN_LATER = 1013;

export type AfterClose =
  | { retry: "backoff" }
  | { retry: "slow"; state: ConnectionState }
  | { retry: "never"; state: ConnectionState };

export function afterClose(code: number): AfterClose {
  if (code === TRY_AGAIN_LATER) return { retry: "slow", state: "busy" };
  if (code === CLOSE_PAIRING_EXPIRED) return { retry: "never", state: "expired" };
  if (code === CLOSE_DEVICE_DISCONNECTED) return { retry: "never", state: "disconnected" };
  return { retry: "backoff" };
}

/**
 * Who sent a request, as the socket handlers and routes learn it. The Deno adapter (serve.ts)
 * decides it per listener before routing and hands it to the app as the Hono binding `peer`:
 * - loopback: a client on this machine (trusted, as the loopback guard checked);
 * - lan: a peer on a LAN listener; `sessionId` is its paired session (absent only on the routes
 *   /pair itself needs), under which its WebSockets are counted and closed when pairing ends.
 */
export type Reach = "loopback" | "lan";

export interface Peer {
  reach: Reach;
  /** The paired session of a LAN peer (the device id of GET /api/lan). */
  sessionId?: string;
  /** The peer's IP address. */
  address: string;
}

/** Hono's environment for the app: `c.env.peer`. */
export interface AppEnv {
  Bindings: { peer: Peer };
}

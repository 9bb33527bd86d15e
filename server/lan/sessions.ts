/**
 * Paired LAN devices: one session per successful pairing, found by its cookie token, with the
 * WebSockets it opened so that ending the session (rotation, "disconnect") closes them at once with
 * a code the page understands. Knows how many devices are connected (have an open socket) and tells
 * listeners when that number changes (the engine hides its QR while any is).
 *
 * Tokens are kept only as SHA-256 digests: the table never holds what a cookie carries.
 */
import type { LanDevice } from "../../protocol/lan.ts";
import { digest, hex, newDeviceId, newToken } from "./secret.ts";

/**
 * Devices remembered at once. Every scan of the QR makes a session; past this, the one seen least
 * recently without an open socket is forgotten (it pairs again by scanning).
 */
export const MAX_SESSIONS = 64;
/**
 * Open WebSockets per device (a page holds two: video and parameters; 16 tabs is plenty). Past it
 * a socket is closed 1013 at once: one paired device, buggy or taken over, cannot fill the
 * connection ceiling that every client, the smx machine's own page included, shares.
 */
export const MAX_SOCKETS_PER_DEVICE = 32;
/** A user agent longer than this is cut: it is shown, never parsed. */
const MAX_USER_AGENT = 256;

export interface Session {
  readonly id: string;
  readonly since: number;
  address: string;
  userAgent: string;
  lastSeen: number;
  readonly sockets: Set<WebSocket>;
}

export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    if (ws.readyState === WebSocket.CONNECTING) {
      // Not open yet (the 101 is still on its way): close it the moment it opens.
      ws.addEventListener("open", () => ws.close(code, reason), { once: true });
    } else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  } catch { /* already closing */ }
}

export class Sessions {
  readonly #byToken = new Map<string, Session>();
  readonly #tokenOf = new Map<Session, string>();
  readonly #listeners = new Set<(connected: number) => void>();
  #connected = 0;

  constructor(
    private readonly o: { max?: number; maxSockets?: number; now?: () => number } = {},
  ) {}

  #now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** A new session and its cookie token; null when every slot holds a connected device. */
  async create(
    address: string,
    userAgent: string,
  ): Promise<{ token: string; session: Session } | null> {
    if (this.#byToken.size >= (this.o.max ?? MAX_SESSIONS) && !this.#evictOne()) return null;
    const token = newToken();
    const key = hex(await digest(token));
    const now = this.#now();
    const session: Session = {
      id: newDeviceId(),
      since: now,
      lastSeen: now,
      address,
      userAgent: userAgent.slice(0, MAX_USER_AGENT),
      sockets: new Set(),
    };
    this.#byToken.set(key, session);
    this.#tokenOf.set(session, key);
    return { token, session };
  }

  #evictOne(): boolean {
    let oldest: Session | undefined;
    for (const s of this.#byToken.values()) {
      if (s.sockets.size === 0 && (!oldest || s.lastSeen < oldest.lastSeen)) oldest = s;
    }
    if (oldest) this.#remove(oldest);
    return oldest !== undefined;
  }

  /** The live session a cookie token names; marks it seen now, from `address`. */
  async find(token: string, address: string): Promise<Session | undefined> {
    if (!token) return undefined;
    const s = this.#byToken.get(hex(await digest(token)));
    if (s) {
      s.lastSeen = this.#now();
      s.address = address;
    }
    return s;
  }

  byId(id: string): Session | undefined {
    for (const s of this.#byToken.values()) if (s.id === id) return s;
    return undefined;
  }

  /**
   * Counts `socket` as the session's until it closes. A session that ended meanwhile (between the
   * request's check and the upgrade) gets its socket closed with `code` at once, one past the
   * device's socket cap with 1013; both return false.
   */
  attach(sessionId: string, socket: WebSocket, code: number, reason: string): boolean {
    const s = this.byId(sessionId);
    if (!s) {
      closeSocket(socket, code, reason);
      return false;
    }
    const max = this.o.maxSockets ?? MAX_SOCKETS_PER_DEVICE;
    if (s.sockets.size >= max) {
      closeSocket(socket, 1013, `this device has ${max} connections to smx already`);
      return false;
    }
    s.sockets.add(socket);
    socket.addEventListener("close", () => {
      s.lastSeen = this.#now(); // a socket open for hours is the device being there all along
      if (s.sockets.delete(socket)) this.#recount();
    }, { once: true });
    this.#recount();
    return true;
  }

  /** Ends one session: forgotten, its sockets closed with `code`. False when the id is unknown. */
  end(id: string, code: number, reason: string): boolean {
    const s = this.byId(id);
    if (!s) return false;
    this.#remove(s, code, reason);
    this.#recount();
    return true;
  }

  /** Ends every session (rotation); returns how many there were. */
  endAll(code: number, reason: string): number {
    const all = [...this.#byToken.values()];
    for (const s of all) this.#remove(s, code, reason);
    this.#recount();
    return all.length;
  }

  #remove(s: Session, code = 1000, reason = ""): void {
    const key = this.#tokenOf.get(s);
    if (key) this.#byToken.delete(key);
    this.#tokenOf.delete(s);
    const sockets = [...s.sockets];
    s.sockets.clear();
    for (const ws of sockets) closeSocket(ws, code, reason);
  }

  list(): LanDevice[] {
    return [...this.#byToken.values()].map((s) => ({
      id: s.id,
      address: s.address,
      userAgent: s.userAgent,
      since: s.since,
      lastSeen: s.lastSeen,
      sockets: s.sockets.size,
    }));
  }

  get size(): number {
    return this.#byToken.size;
  }

  /** Devices with at least one open socket. */
  connected(): number {
    return this.#connected;
  }

  /** Calls `fn(count)` whenever the number of connected devices changes; returns an unsubscribe. */
  onConnectedChange(fn: (connected: number) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #recount(): void {
    let n = 0;
    for (const s of this.#byToken.values()) if (s.sockets.size > 0) n++;
    if (n === this.#connected) return;
    this.#connected = n;
    for (const fn of [...this.#listeners]) {
      try {
        fn(n);
      } catch { /* a listener's bug must not break session bookkeeping */ }
    }
  }
}

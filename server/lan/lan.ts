/**
 * The LAN reach of one smx launch: the addresses it listens on, the pairing secret and code, the
 * paired devices and their sockets. Start-up (server/start.ts) makes one; the Deno adapter asks its
 * gate about every LAN request and hands it every LAN WebSocket; the routes (routes.ts) serve
 * pairing and the loopback-only API from it.
 *
 * For the engine's QR: `qrMatrix()` and `onRotate` (the QR changes), `onLanClientsChange` (hide the
 * QR while any LAN device is connected).
 */
import {
  CLOSE_DEVICE_DISCONNECTED,
  CLOSE_PAIRING_EXPIRED,
  DEVICE_DISCONNECTED_REASON,
  type LanStatus,
  originOf,
  PAIRING_EXPIRED_REASON,
  pairingUrlOf,
  type RotateResult,
} from "../../protocol/lan.ts";
import { type QrMatrix, qrMatrix } from "../../protocol/qr.ts";
import type { Peer } from "../http/peer.ts";
import { AttemptLimit } from "./attempts.ts";
import { LanGate } from "./gate.ts";
import { Pairing, type PairingState } from "./pairing.ts";
import { Sessions } from "./sessions.ts";

export interface LanReachOptions {
  /** LAN addresses served, the QR's first (addresses.ts). */
  addresses: string[];
  /** One line per pairing event; never a secret, code or token. */
  log?: (msg: string) => void;
  limit?: AttemptLimit;
  sessions?: Sessions;
}

export class LanReach {
  readonly sessions: Sessions;
  readonly limit: AttemptLimit;
  readonly pairing: Pairing;
  readonly gate: LanGate;
  readonly addresses: string[];
  readonly log: (msg: string) => void;
  /** The port every listener serves; set once listening (0 before). */
  port = 0;

  constructor(o: LanReachOptions) {
    this.addresses = o.addresses;
    this.log = o.log ?? (() => {});
    this.sessions = o.sessions ?? new Sessions();
    this.limit = o.limit ?? new AttemptLimit();
    this.pairing = new Pairing(this.sessions, this.limit);
    this.gate = new LanGate(this.sessions);
  }

  urls(): string[] {
    return this.addresses.map((a) => `${originOf(a, this.port)}/`);
  }

  pairingUrls(): string[] {
    return this.addresses.map((a) => pairingUrlOf(a, this.port, this.pairing.state.secret));
  }

  /** The URL in the QR code (first address), or null without LAN addresses. */
  pairingUrl(): string | null {
    return this.pairingUrls()[0] ?? null;
  }

  /** The QR code of pairingUrl() (what the engine draws), or null without LAN addresses. */
  qrMatrix(): QrMatrix | null {
    const url = this.pairingUrl();
    return url ? qrMatrix(url) : null;
  }

  status(): LanStatus {
    return {
      enabled: true,
      port: this.port,
      addresses: [...this.addresses],
      urls: this.urls(),
      pairingUrl: this.pairingUrl(),
      pairingUrls: this.pairingUrls(),
      code: this.pairing.state.code,
      since: this.pairing.state.since,
      devices: this.sessions.list(),
      connected: this.sessions.connected(),
    };
  }

  rotate(): RotateResult {
    const ended = this.pairing.rotate();
    this.log(`pairing rotated: new QR and code; ${ended} LAN session(s) ended`);
    return { pairingUrl: this.pairingUrl(), code: this.pairing.state.code, ended };
  }

  disconnect(deviceId: string): boolean {
    const ok = this.sessions.end(deviceId, CLOSE_DEVICE_DISCONNECTED, DEVICE_DISCONNECTED_REASON);
    if (ok) this.log(`LAN device ${deviceId} disconnected`);
    return ok;
  }

  /** Counts a LAN session's WebSocket under it (closed when the session ends). */
  attach(peer: Peer, socket: WebSocket): void {
    if (peer.reach !== "lan") return;
    if (!peer.sessionId) {
      // The gate lets no session-less peer upgrade; should a route ever, it gets no socket.
      socket.addEventListener("open", () => socket.close(CLOSE_PAIRING_EXPIRED), { once: true });
      return;
    }
    this.sessions.attach(peer.sessionId, socket, CLOSE_PAIRING_EXPIRED, PAIRING_EXPIRED_REASON);
  }

  /** LAN devices with an open WebSocket now. */
  lanClients(): number {
    return this.sessions.connected();
  }

  /** `fn(count)` whenever the number of connected LAN devices changes; returns an unsubscribe. */
  onLanClientsChange(fn: (count: number) => void): () => void {
    return this.sessions.onConnectedChange(fn);
  }

  /** `fn` after each rotation (new secret, code, QR); returns an unsubscribe. */
  onRotate(fn: (s: PairingState) => void): () => void {
    return this.pairing.onRotate(fn);
  }
}

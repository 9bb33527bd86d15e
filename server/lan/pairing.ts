/**
 * The pairing secret and code of this launch, and what a pairing attempt gets.
 *
 * The secret (192 bits, in the QR's fragment) and the 8-digit code both make a session. Wrong
 * attempts of either kind are counted by AttemptLimit (per peer and over all peers); while the
 * limit holds:
 * - a code is not even looked at: 429 (10^8 codes could otherwise be walked through);
 * - a wrong secret gets 429, but a right secret still pairs. Guessing 192 bits is hopeless at any
 *   rate, so this costs nothing, and it keeps pairing by QR working while someone on the LAN
 *   floods /pair with guesses to lock everyone out.
 * Rotation makes a new secret and code and ends every LAN session (their sockets close 4401).
 */
import {
  CLOSE_PAIRING_EXPIRED,
  normalizeCode,
  PAIRING_EXPIRED_REASON,
  type PairRequest,
} from "../../protocol/lan.ts";
import type { AttemptLimit } from "./attempts.ts";
import { digest, newCode, newSecret, sameDigest } from "./secret.ts";
import type { Session, Sessions } from "./sessions.ts";

export type PairOutcome =
  | { kind: "paired"; token: string; session: Session }
  | { kind: "wrong" }
  | { kind: "rate_limited"; retryAfterS: number }
  | { kind: "too_many_devices" };

export interface PairingState {
  secret: string;
  code: string;
  since: number;
}

export class Pairing {
  #state!: PairingState;
  #generation = 0;
  #secretDigest!: Promise<Uint8Array>;
  #codeDigest!: Promise<Uint8Array>;
  readonly #listeners = new Set<(s: PairingState) => void>();

  constructor(
    private readonly sessions: Sessions,
    private readonly limit: AttemptLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.#renew();
  }

  #renew(): void {
    this.#generation++;
    this.#state = { secret: newSecret(), code: newCode(), since: this.now() };
    this.#secretDigest = digest(this.#state.secret);
    this.#codeDigest = digest(this.#state.code);
  }

  get state(): PairingState {
    return this.#state;
  }

  async pair(req: PairRequest, peer: { address: string; userAgent: string }): Promise<PairOutcome> {
    const generation = this.#generation;
    const waitMs = this.limit.waitMs(peer.address);
    const limited = (): PairOutcome => ({
      kind: "rate_limited",
      retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)),
    });
    let right: boolean;
    if ("secret" in req) {
      right = sameDigest(await digest(req.secret), await this.#secretDigest);
    } else {
      if (waitMs > 0) return limited();
      const code = normalizeCode(req.code);
      right = code !== null && sameDigest(await digest(code), await this.#codeDigest);
    }
    if (!right) {
      if (waitMs > 0) return limited(); // refused attempts do not push the limit further out
      this.limit.failed(peer.address);
      return { kind: "wrong" };
    }
    const made = await this.sessions.create(peer.address, peer.userAgent);
    if (!made) return { kind: "too_many_devices" };
    if (generation !== this.#generation) {
      // Rotated while this attempt was being checked: what it presented is no longer valid.
      this.sessions.end(made.session.id, CLOSE_PAIRING_EXPIRED, PAIRING_EXPIRED_REASON);
      return { kind: "wrong" };
    }
    return { kind: "paired", ...made };
  }

  /** A new secret and code; every LAN session ends. Returns how many sessions ended. */
  rotate(): number {
    this.#renew();
    const ended = this.sessions.endAll(CLOSE_PAIRING_EXPIRED, PAIRING_EXPIRED_REASON);
    for (const fn of [...this.#listeners]) {
      try {
        fn(this.#state);
      } catch { /* a listener's bug must not stop rotation */ }
    }
    return ended;
  }

  /** Calls `fn` with the new secret and code after each rotation; returns an unsubscribe. */
  onRotate(fn: (s: PairingState) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

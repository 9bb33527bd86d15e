/**
 * Pairing channels: smx publishes its LAN pairing QR to the engine as hub channels, so that the
 * engine can draw it in its own render window (docs/engine-protocol.md, "Channels smx writes").
 *
 *   Smx.Pairing.Url   string  the pairing URL the QR encodes
 *   Smx.Pairing.Qr    string  the QR module matrix: size² chars '0'/'1', row-major, size = √length
 *   Smx.Pairing.Code  string  the numeric pairing code
 *   Smx.Pairing.Show  bool    true while LAN is on and no LAN client is connected
 *
 * Written through the mirror's validated write path like any client's writes, and only those the
 * engine's spec declares (an engine without them is never written to). `PairingChannels` keeps the
 * last published state and converges the engine to it: after every (re)connect or resync of the
 * engine link (a restarted engine starts from its defaults), and whenever the state changes. It
 * writes only values that differ from the engine's, keeps at most one write per channel in
 * flight (a burst of changes ends in the latest value, not one write per change), flushes at most
 * every `minIntervalMs`, and puts a value back that someone else overwrote at most every
 * `reassertMs`.
 */
import {
  type ChannelMeta,
  type LinkState,
  MAX_STRING_CHARS,
  type ParamValue,
} from "../../protocol/params.ts";
import type { MirrorEvent, ParamWriteError, WriteResult } from "./param_mirror.ts";

/** Channels under this prefix are written by smx only; engines keep them out of their UI. */
export const SMX_CHANNEL_PREFIX = "Smx.";

export const PAIRING_CHANNELS = {
  url: "Smx.Pairing.Url",
  qr: "Smx.Pairing.Qr",
  code: "Smx.Pairing.Code",
  show: "Smx.Pairing.Show",
} as const;

/** What protocol/qr.ts `qrMatrix(text)` returns: `size`² chars '0'/'1', row-major, '1' = dark. */
export interface QrMatrix {
  size: number;
  modules: string;
}

export interface PairingState {
  url: string;
  qr: QrMatrix;
  code: string;
  /** False while any LAN client is connected. */
  show: boolean;
}

/** True for channels smx writes itself (`Smx.…`): not user parameters. */
export function isSmxChannel(path: string): boolean {
  return path.startsWith(SMX_CHANNEL_PREFIX);
}

/** Largest QR side that fits a string channel as '0'/'1' text: 64 (version 11 is 61). */
export const MAX_QR_SIZE = Math.floor(Math.sqrt(MAX_STRING_CHARS));

/** The `Smx.Pairing.Qr` value of a matrix; throws a RangeError for a malformed one. */
export function qrChannelValue(qr: QrMatrix): string {
  const { size, modules } = qr;
  if (!Number.isInteger(size) || size < 1 || size > MAX_QR_SIZE) {
    throw new RangeError(`QR size ${size} is out of range (1..${MAX_QR_SIZE})`);
  }
  if (modules.length !== size * size || !/^[01]*$/.test(modules)) {
    throw new RangeError(`QR modules must be ${size * size} chars '0'/'1' for size ${size}`);
  }
  return modules;
}

/**
 * Reads a `Smx.Pairing.Qr` value back: the side and one byte per module (1 = dark), or null for
 * anything that is not a non-empty square of '0'/'1' (an empty string means "no QR").
 */
export function parseQrChannel(v: unknown): { size: number; modules: Uint8Array } | null {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_STRING_CHARS) return null;
  const size = Math.round(Math.sqrt(v.length));
  if (size * size !== v.length) return null;
  const modules = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c !== 48 && c !== 49) return null;
    modules[i] = c - 48;
  }
  return { size, modules };
}

/** What PairingChannels needs of the mirror (server/engine/param_mirror.ts `ParamMirror`). */
export interface PairingMirror {
  readonly state: LinkState;
  get(path: string): ParamValue | undefined;
  meta(path: string): ChannelMeta | undefined;
  write(path: string, value: unknown): Promise<WriteResult>;
  subscribe(fn: (e: MirrorEvent) => void): () => void;
}

export interface PairingChannelsOptions {
  log?: (level: "info" | "warn", msg: string) => void;
  /** Least time between two flushes (a burst of changes is written once). Default 50 ms. */
  minIntervalMs?: number;
  /** A value someone else overwrote is written again after this long. Default 1000 ms. */
  reassertMs?: number;
}

type Path = (typeof PAIRING_CHANNELS)[keyof typeof PAIRING_CHANNELS];

/** Values written when nothing is to be shown: no QR, no secret left in the engine. */
const HIDDEN: ReadonlyMap<Path, ParamValue> = new Map<Path, ParamValue>([
  [PAIRING_CHANNELS.url, ""],
  [PAIRING_CHANNELS.qr, ""],
  [PAIRING_CHANNELS.code, ""],
  [PAIRING_CHANNELS.show, false],
]);

export class PairingChannels {
  #mirror: PairingMirror;
  #log: (level: "info" | "warn", msg: string) => void;
  #minIntervalMs: number;
  #reassertMs: number;
  /** The state to converge to; null until the first publish (nothing is written before). */
  #desired: Map<Path, ParamValue> | null = null;
  #inflight = new Set<Path>();
  /** Per channel, the value the engine acked or refused since the last snapshot: not rewritten. */
  #settled = new Map<Path, ParamValue>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reassertTimer: ReturnType<typeof setTimeout> | undefined;
  #lastFlush = -Infinity;
  #unsubscribe: () => void;
  #closed = false;
  #writes = 0;

  constructor(mirror: PairingMirror, opts: PairingChannelsOptions = {}) {
    this.#mirror = mirror;
    this.#log = opts.log ?? (() => {});
    this.#minIntervalMs = opts.minIntervalMs ?? 50;
    this.#reassertMs = opts.reassertMs ?? 1000;
    this.#unsubscribe = mirror.subscribe((e) => this.#onMirror(e));
  }

  /** Writes sent to the engine so far (each changed value once; tests check for storms). */
  get writes(): number {
    return this.#writes;
  }

  /**
   * The state the engine should show; `null` (LAN off) hides the QR and clears URL, QR and code.
   * Returns at once; the engine gets the changed values within `minIntervalMs` when linked, else
   * right after the link comes up. Throws a RangeError for a malformed QR matrix.
   */
  publish(state: PairingState | null): void {
    if (this.#closed) return;
    const next = state === null ? new Map(HIDDEN) : new Map<Path, ParamValue>([
      [PAIRING_CHANNELS.url, state.url],
      [PAIRING_CHANNELS.qr, qrChannelValue(state.qr)],
      [PAIRING_CHANNELS.code, state.code],
      [PAIRING_CHANNELS.show, state.show],
    ]);
    for (const [path, value] of next) {
      if (this.#desired?.get(path) !== value) this.#settled.delete(path);
    }
    this.#desired = next;
    this.#schedule();
  }

  /**
   * Stops following the mirror. With `hide` (default true) and a live link, first sets
   * Smx.Pairing.Show to false, so an engine does not keep showing the QR of an smx that is gone.
   */
  async close(opts: { hide?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
    clearTimeout(this.#reassertTimer);
    const show = PAIRING_CHANNELS.show;
    if (
      (opts.hide ?? true) && this.#mirror.state === "connected" && this.#mirror.meta(show) &&
      this.#mirror.get(show) !== false
    ) {
      this.#writes++;
      await this.#mirror.write(show, false).catch(() => {});
    }
  }

  #onMirror(e: MirrorEvent): void {
    if (this.#closed) return;
    if (e.type === "snapshot") {
      // A new link, an engine restart or a resync: the engine may hold anything now.
      this.#settled.clear();
      this.#schedule(true);
    } else if (e.type === "link") {
      if (e.link.state === "connected") this.#schedule(true);
    } else if (this.#desired) {
      // Someone else changed a channel of ours: put it back, but not more often than reassertMs.
      const changes = e.msg.changes;
      for (let i = 0; i < changes.length; i += 2) {
        const path = changes[i] as Path;
        const want = this.#desired.get(path);
        if (want === undefined || this.#inflight.has(path) || changes[i + 1] === want) continue;
        this.#reassertTimer ??= setTimeout(() => {
          this.#reassertTimer = undefined;
          this.#settled.clear();
          this.#schedule();
        }, this.#reassertMs);
      }
    }
  }

  /** Flushes soon: at once when `now` (a fresh link), else no sooner than minIntervalMs after the last. */
  #schedule(now = false): void {
    if (this.#closed || !this.#desired) return;
    if (now && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#timer !== undefined) return;
    const wait = now ? 0 : Math.max(0, this.#lastFlush + this.#minIntervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  #flush(): void {
    const desired = this.#desired;
    const m = this.#mirror;
    if (this.#closed || !desired || m.state !== "connected") return;
    this.#lastFlush = performance.now();
    const { url, qr, code, show } = PAIRING_CHANNELS;
    // Hiding goes first and showing last, so the QR never shows with half-written values.
    const order: Path[] = desired.get(show) === true
      ? [url, qr, code, show]
      : [show, url, qr, code];
    for (const path of order) {
      const want = desired.get(path)!;
      if (this.#inflight.has(path) || !m.meta(path)) continue; // not declared: not ours to write
      if (m.get(path) === want || this.#settled.get(path) === want) continue;
      this.#inflight.add(path);
      this.#writes++;
      m.write(path, want).then(
        () => this.#settled.set(path, want),
        (e: ParamWriteError) => {
          if (e.code === "engine_offline") return; // the next snapshot brings a fresh attempt
          if (e.code !== "timeout") this.#settled.set(path, want); // refused: once per value
          this.#log("warn", `pairing: ${path} not written: ${e.code}: ${e.message}`);
        },
      ).finally(() => {
        this.#inflight.delete(path);
        this.#schedule(); // the state may have changed meanwhile
      });
    }
  }
}

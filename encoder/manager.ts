/**
 * Maps viewers' demand onto shared encode sessions: one session per (source, rendition, codec),
 * created on the first demand and stopped when the last viewer leaves, so nothing nobody watches
 * costs CPU.
 */
import { DEFAULT_VIDEO_CODEC, type VideoCodec } from "../protocol/video.ts";
import {
  EncodeSession,
  sessionId,
  type SessionKey,
  type SessionStats,
  type Subscriber,
} from "./session.ts";
import {
  pixelRate,
  type Rendition,
  renditionFor,
  renditionLadder,
} from "../protocol/size_classes.ts";
import { budgetedPixelRate, type EncodeBudget, fitsBudget } from "./budget.ts";

export interface SourceInfo extends Rendition {
  /** Current frame-source reference of this source: a ring name, or "spout:<sender>" on Windows
   * (encoder/frame_source.ts); changes when the engine restarts. */
  ring: string;
}

export interface ManagerOptions {
  /** Looks a source id up in what the engine currently offers. */
  resolveSource(source: string): SourceInfo | undefined;
  encoderPreference?: string[];
  /** H.264 sessions' bitrate (JPEG sessions have none). */
  bitrateKbps?: (r: Rendition) => number | undefined;
  /** Beyond it, new demand is served by an existing rendition (default: no limit). */
  budget?: EncodeBudget;
  log?: (msg: string) => void;
}

export interface Subscription {
  readonly session: EncodeSession;
  readonly rendition: Rendition;
  /** Set when the encode budget gave a different rendition than the demand's. */
  readonly limitedByBudget: boolean;
  requestKeyframe(): void;
  close(): void;
}

export class UnknownSourceError extends Error {
  constructor(source: string) {
    super(`unknown video source "${source}"`);
    this.name = "UnknownSourceError";
  }
}

export class EncodeSessionManager {
  #sessions = new Map<string, EncodeSession>();
  #stopping = new Set<Promise<void>>();

  constructor(private readonly opts: ManagerOptions) {}

  /** The source's current size and rate (undefined: unknown now). */
  resolve(source: string): SourceInfo | undefined {
    return this.opts.resolveSource(source);
  }

  /**
   * Attaches a viewer's demand to the shared session for its rendition in its codec, creating it
   * when the budget allows; otherwise the nearest running rendition of the source in that codec
   * serves it, or (when it has none) the largest rendition that still fits, down to the smallest.
   * A viewer only ever gets the codec it asked for: it is what its page can decode.
   */
  subscribe(
    source: string,
    want: Rendition,
    sub: Subscriber,
    codec: VideoCodec = DEFAULT_VIDEO_CODEC,
  ): Subscription {
    const src = this.opts.resolveSource(source);
    if (!src) throw new UnknownSourceError(source);
    const asked: SessionKey = { source, codec, ...renditionFor(want, src) };
    const rendition = this.#withinBudget(asked, src);
    const key: SessionKey = { source, codec, ...rendition };
    const id = sessionId(key);
    let session = this.#sessions.get(id);
    if (!session) {
      session = new EncodeSession(key, {
        resolveRing: (s) => this.opts.resolveSource(s)?.ring,
        encoderPreference: this.opts.encoderPreference,
        bitrateKbps: this.opts.bitrateKbps?.(rendition),
        log: this.opts.log,
      });
      this.#sessions.set(id, session);
      this.opts.log?.(`session ${id}: started`);
    }
    const unsubscribe = session.subscribe(sub);
    const s = session;
    let closed = false;
    return {
      session: s,
      rendition,
      limitedByBudget: sessionId(asked) !== id,
      requestKeyframe: () => s.requestKeyframe(sub),
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        if (s.subscriberCount === 0 && this.#sessions.get(id) === s) this.#stop(id, s);
      },
    };
  }

  #withinBudget(asked: SessionKey, src: Rendition): Rendition {
    const { source, codec } = asked;
    const plain = { width: asked.width, height: asked.height, fps: asked.fps };
    const budget = this.opts.budget;
    if (!budget || this.#sessions.has(sessionId(asked))) return plain;
    const running = [...this.#sessions.values()].map((s) => s.key);
    if (fitsBudget(budget, running, asked)) return plain;
    // Only a session in the viewer's codec can stand in: another codec is one its page cannot
    // decode.
    const mine = running.filter((k) => k.source === source && k.codec === codec);
    if (mine.length) {
      // The largest running rendition not above the demand, else the smallest above it.
      const below = mine.filter((k) => pixelRate(k) <= pixelRate(asked));
      const pick = below.length
        ? below.reduce((a, b) => pixelRate(b) > pixelRate(a) ? b : a)
        : mine.reduce((a, b) => pixelRate(b) < pixelRate(a) ? b : a);
      return { width: pick.width, height: pick.height, fps: pick.fps };
    }
    // Every source gets a picture: the best that fits, else the smallest (over budget, logged).
    const ladder = renditionLadder(plain, src);
    const fit = ladder.find((r) => fitsBudget(budget, running, { ...r, codec }));
    if (!fit) {
      this.opts.log?.(`encode budget spent: ${source} gets its smallest rendition anyway`);
    }
    return fit ?? ladder.at(-1)!;
  }

  /** Whether `rendition` of `source` in `codec` runs already or would start within the budget. */
  canServe(source: string, rendition: Rendition, codec: VideoCodec = DEFAULT_VIDEO_CODEC): boolean {
    const key: SessionKey = { source, codec, ...rendition };
    if (this.#sessions.has(sessionId(key))) return true;
    const b = this.opts.budget;
    return !b || fitsBudget(b, [...this.#sessions.values()].map((s) => s.key), key);
  }

  /** `source` now names another frame source (a venue switch): its sessions reopen on it. */
  rerouted(source: string): void {
    for (const s of this.#sessions.values()) if (s.key.source === source) s.reroute();
  }

  /** The engine's senders changed: sessions waiting for their source retry at once. */
  wakeAll(): void {
    for (const s of this.#sessions.values()) s.wake();
  }

  #stop(id: string, s: EncodeSession): void {
    this.#sessions.delete(id);
    const p = s.stop().finally(() => this.#stopping.delete(p));
    this.#stopping.add(p);
    this.opts.log?.(`session ${id}: stopped (no viewers)`);
  }

  /** Stats of every running session. */
  stats(): SessionStats[] {
    return [...this.#sessions.values()].map((s) => s.stats());
  }

  /**
   * What the running sessions cost the budget: pixels per second, each session's weighted by its
   * codec (H.264-equivalent), so it compares with EncodeBudget.pixelsPerSecond.
   */
  get pixelRate(): number {
    let sum = 0;
    for (const s of this.#sessions.values()) sum += budgetedPixelRate(s.key);
    return sum;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Stops everything; resolves when no native call is in flight. */
  async close(): Promise<void> {
    for (const [id, s] of this.#sessions) this.#stop(id, s);
    await Promise.all([...this.#stopping]);
  }
}

/**
 * Maps viewers' demand onto shared encode sessions: one session per (source, rendition), created
 * on the first demand and stopped when the last viewer leaves, so nothing nobody watches costs CPU.
 */
import { EncodeSession, sessionId, type SessionStats, type Subscriber } from "./session.ts";
import { pixelRate, type Rendition, renditionFor, renditionLadder } from "./size_classes.ts";
import { type EncodeBudget, fitsBudget } from "./budget.ts";

export interface SourceInfo extends Rendition {
  /** Current frame-ring name of this source; changes when the engine restarts. */
  ring: string;
}

export interface ManagerOptions {
  /** Looks a source id up in what the engine currently offers. */
  resolveSource(source: string): SourceInfo | undefined;
  encoderPreference?: string[];
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
   * Attaches a viewer's demand to the shared session for its rendition, creating it when the
   * budget allows; otherwise the nearest running rendition of the source serves it, or (when the
   * source has none) the largest rendition that still fits, down to the smallest.
   */
  subscribe(source: string, want: Rendition, sub: Subscriber): Subscription {
    const src = this.opts.resolveSource(source);
    if (!src) throw new UnknownSourceError(source);
    const asked = renditionFor(want, src);
    const rendition = this.#withinBudget(source, asked, src);
    const key = { source, ...rendition };
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
      limitedByBudget: sessionId({ source, ...asked }) !== id,
      requestKeyframe: () => s.requestKeyframe(sub),
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        if (s.subscriberCount === 0 && this.#sessions.get(id) === s) this.#stop(id, s);
      },
    };
  }

  #withinBudget(source: string, asked: Rendition, src: Rendition): Rendition {
    const budget = this.opts.budget;
    if (!budget || this.#sessions.has(sessionId({ source, ...asked }))) return asked;
    const running = [...this.#sessions.values()].map((s) => s.key);
    if (fitsBudget(budget, running, asked)) return asked;
    const mine = running.filter((k) => k.source === source);
    if (mine.length) {
      // The largest running rendition not above the demand, else the smallest above it.
      const below = mine.filter((k) => pixelRate(k) <= pixelRate(asked));
      const pick = below.length
        ? below.reduce((a, b) => pixelRate(b) > pixelRate(a) ? b : a)
        : mine.reduce((a, b) => pixelRate(b) < pixelRate(a) ? b : a);
      return { width: pick.width, height: pick.height, fps: pick.fps };
    }
    // Every source gets a picture: the best that fits, else the smallest (over budget, logged).
    const ladder = renditionLadder(asked, src);
    const fit = ladder.find((r) => fitsBudget(budget, running, r));
    if (!fit) {
      this.opts.log?.(`encode budget spent: ${source} gets its smallest rendition anyway`);
    }
    return fit ?? ladder.at(-1)!;
  }

  /** Whether `rendition` of `source` runs already or would start within the budget now. */
  canServe(source: string, rendition: Rendition): boolean {
    if (this.#sessions.has(sessionId({ source, ...rendition }))) return true;
    const b = this.opts.budget;
    return !b || fitsBudget(b, [...this.#sessions.values()].map((s) => s.key), rendition);
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

  /** Pixels per second encoded by the running sessions. */
  get pixelRate(): number {
    let sum = 0;
    for (const s of this.#sessions.values()) sum += pixelRate(s.key);
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

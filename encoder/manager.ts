/**
 * Maps viewers' demand onto shared encode sessions: one session per (source, rendition), created
 * on the first demand and stopped when the last viewer leaves, so nothing nobody watches costs CPU.
 */
import { EncodeSession, sessionId, type SessionStats, type Subscriber } from "./session.ts";
import { type Rendition, renditionFor } from "./size_classes.ts";

export interface SourceInfo extends Rendition {
  /** Current frame-ring name of this source; changes when the engine restarts. */
  ring: string;
}

export interface ManagerOptions {
  /** Looks a source id up in what the engine currently offers. */
  resolveSource(source: string): SourceInfo | undefined;
  encoderPreference?: string[];
  bitrateKbps?: (r: Rendition) => number | undefined;
  log?: (msg: string) => void;
}

export interface Subscription {
  readonly session: EncodeSession;
  readonly rendition: Rendition;
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

  /** Attaches a viewer's demand to the shared session for its rendition (creating it). */
  subscribe(source: string, want: Rendition, sub: Subscriber): Subscription {
    const src = this.opts.resolveSource(source);
    if (!src) throw new UnknownSourceError(source);
    const rendition = renditionFor(want, src);
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
      requestKeyframe: () => s.requestKeyframe(sub),
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        if (s.subscriberCount === 0 && this.#sessions.get(id) === s) this.#stop(id, s);
      },
    };
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

  get size(): number {
    return this.#sessions.size;
  }

  /** Stops everything; resolves when no native call is in flight. */
  async close(): Promise<void> {
    for (const [id, s] of this.#sessions) this.#stop(id, s);
    await Promise.all([...this.#stopping]);
  }
}

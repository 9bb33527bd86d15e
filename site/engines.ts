/**
 * The engines a user may open and whether each is online.
 *
 * Who may open what comes from the config: an engine without `groups` is open to every signed-in
 * user, one with `groups` to members of any of them. Online means smx is connected to Centrifugo
 * for that engine: its client (user `engineUser(engine)`) is present in `smx_ctl:<engine>`, asked
 * of Centrifugo's server API (`POST {apiUrl}/presence`). Answers are cached CACHE_MS per engine (one
 * question in flight per engine however many pages ask), and an engine is offline when Centrifugo
 * cannot be asked (unreachable, slow, refusing the key, presence off for the namespace).
 */
import { channelOf, type EngineEntry, engineUser } from "../protocol/wan.ts";
import type { EngineConfig, SiteConfig } from "./config.ts";
import type { User } from "./auth.ts";

export const CACHE_MS = 2000;
export const PRESENCE_TIMEOUT_MS = 1500;

export function mayOpen(engine: EngineConfig, user: User): boolean {
  return !engine.groups || engine.groups.some((g) => user.groups.includes(g));
}

export class Presence {
  #cache = new Map<string, { at: number; online: Promise<boolean> }>();
  #problem = "";

  constructor(
    private readonly cf: Pick<SiteConfig["centrifugo"], "apiUrl" | "apiKey">,
    private readonly opts: { cacheMs?: number; timeoutMs?: number; log?: (m: string) => void } = {},
  ) {}

  online(engine: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.#cache.get(engine);
    if (hit && now - hit.at < (this.opts.cacheMs ?? CACHE_MS)) return hit.online;
    const online = this.#ask(engine);
    this.#cache.set(engine, { at: now, online });
    return online;
  }

  async #ask(engine: string): Promise<boolean> {
    try {
      const res = await fetch(`${this.cf.apiUrl}/presence`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": this.cf.apiKey },
        body: JSON.stringify({ channel: channelOf("ctl", engine) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? PRESENCE_TIMEOUT_MS),
      });
      const body = await res.json().catch(() => null) as {
        result?: { presence?: Record<string, { user?: string }> };
        error?: { code?: number; message?: string };
      } | null;
      if (!res.ok || !body || body.error || !body.result) {
        const why = body?.error ? `${body.error.code} ${body.error.message}` : `HTTP ${res.status}`;
        this.#report(`Centrifugo presence for ${engine}: ${why}`);
        return false;
      }
      this.#report("");
      const me = engineUser(engine);
      return Object.values(body.result.presence ?? {}).some((c) => c?.user === me);
    } catch (e) {
      this.#report(`Centrifugo presence unreachable: ${(e as Error).message}`);
      return false;
    }
  }

  /** Logs a problem when it starts or changes, and once when it clears (never per request). */
  #report(problem: string): void {
    if (problem === this.#problem) return;
    if (problem) this.opts.log?.(problem);
    else if (this.#problem) this.opts.log?.("Centrifugo presence answers again");
    this.#problem = problem;
  }
}

export class EngineDirectory {
  constructor(
    private readonly engines: EngineConfig[],
    private readonly presence: Presence,
  ) {}

  /** The engine when it exists and `user` may open it; null otherwise (indistinguishably). */
  find(id: string, user: User): EngineConfig | null {
    const e = this.engines.find((x) => x.id === id);
    return e && mayOpen(e, user) ? e : null;
  }

  async list(user: User): Promise<EngineEntry[]> {
    const mine = this.engines.filter((e) => mayOpen(e, user));
    const online = await Promise.all(mine.map((e) => this.presence.online(e.id)));
    return mine.map((e, i) => ({ id: e.id, label: e.label, online: online[i] }));
  }
}

/**
 * Wires discovery to the mirror for smx: discovery runs before every (re)connect (a restarted
 * engine has a new port and token), the last result is kept for smx's /hello candidate list, and
 * the user's choice (flag or UI) is a selector that sticks across restarts.
 *
 * Choice rules: an explicit `--engine URL` always wins; otherwise a selector (name, pid, instance
 * id or URL) names the engine — if it is not running smx waits for it rather than linking a
 * different one, and if it names several usable engines smx links none and says which match;
 * with neither, the most recently started usable engine (with a port file) is used. Engines smx
 * cannot link (no token, video only) are listed with why, never chosen by default.
 */
import {
  type DiscoveredEngine,
  discoverEngines,
  type DiscoveryOptions,
  EngineSelectError,
  selectEngine,
} from "./discovery.ts";
import { ParamMirror } from "./param_mirror.ts";
import type { LinkOptions } from "./engine_link.ts";

export interface EngineServiceOptions extends LinkOptions {
  /** `--engine URL` */
  explicit?: string;
  /** `--engine-select NAME|PID|URL`, or a UI choice later via choose(). */
  select?: string;
  portDir?: string;
  probePorts?: number[] | false;
  listSenders?: DiscoveryOptions["listSenders"];
  listSpoutSenders?: DiscoveryOptions["listSpoutSenders"];
  /** Re-run discovery this often while linked, for the candidate list. Default 10000 ms. */
  refreshMs?: number;
  log?: (level: "info" | "warn", msg: string) => void;
}

/** What /hello may show about an engine (never its token). */
export interface PublicCandidate {
  name: string;
  url: string;
  pid?: number;
  via: DiscoveredEngine["via"];
  instanceId?: string;
  selected: boolean;
  /** smx can link it; when not, `why` says what is missing (e.g. a token). */
  usable: boolean;
  why?: string;
}

export class EngineService {
  readonly mirror: ParamMirror;
  #engines: DiscoveredEngine[] = [];
  #problems: string[] = [];
  #select: string | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(private opts: EngineServiceOptions = {}) {
    this.#select = opts.select;
    this.mirror = new ParamMirror({ ...opts, engine: () => this.#resolve() });
  }

  start(): this {
    this.mirror.start();
    this.#timer = setInterval(() => {
      if (this.mirror.state === "connected") this.refresh().catch(() => {});
    }, this.opts.refreshMs ?? 10000);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.mirror.stop();
  }

  /** Runs discovery now and keeps the result for candidates(). */
  async refresh(): Promise<DiscoveredEngine[]> {
    const r = await discoverEngines({
      explicit: this.opts.explicit,
      portDir: this.opts.portDir,
      probePorts: this.opts.probePorts,
      listSenders: this.opts.listSenders,
      listSpoutSenders: this.opts.listSpoutSenders,
    });
    for (const p of r.problems) if (!this.#problems.includes(p)) this.opts.log?.("info", p);
    this.#engines = r.engines;
    this.#problems = r.problems;
    return r.engines;
  }

  /** Engines last found, for smx's /hello and the UI's picker. */
  candidates(): PublicCandidate[] {
    const current = this.mirror.link.engine?.instanceId;
    return this.#engines.map((e) => ({
      name: e.name,
      url: e.url,
      via: e.via,
      ...(e.pid !== undefined ? { pid: e.pid } : {}),
      ...(e.instanceId ? { instanceId: e.instanceId } : {}),
      selected: e.instanceId !== undefined && e.instanceId === current,
      usable: e.usable,
      ...(e.why ? { why: e.why } : {}),
    }));
  }

  get problems(): readonly string[] {
    return this.#problems;
  }

  /** Switches to the engine `selector` names (name, pid, instance id or URL). */
  choose(selector: string): void {
    this.#select = selector;
    this.mirror.retarget(() => this.#resolve());
  }

  async #resolve() {
    const engines = await this.refresh();
    let e: DiscoveredEngine | undefined;
    try {
      e = selectEngine(engines, this.#select);
      if (!e && this.#select) this.opts.log?.("warn", `engine "${this.#select}" not found`);
    } catch (err) {
      if (!(err instanceof EngineSelectError)) throw err;
      // Keep the engine already linked if it is one of them; otherwise link none rather than a
      // guess, and say which ones match.
      const current = this.mirror.link.engine?.instanceId;
      e = err.matches.find((m) => m.instanceId !== undefined && m.instanceId === current);
      if (!e) this.opts.log?.("warn", err.message);
    }
    return e && e.url !== "" ? { url: e.url, token: e.token, name: e.name } : null;
  }
}

/**
 * Keeps the demo engine that smx started running. When it exits without being asked to, the exit
 * is logged with its status and the engine is started again under the same name (it writes a new
 * port file; discovery, which runs before every reconnect, finds it). Restarts wait `backoffMs`,
 * doubling per fast crash; after `maxFastCrashes` crashes in a row, each within `fastCrashMs` of
 * its start, it is given up on with a message carrying its last output — a demo engine that
 * cannot start is a problem to report, not a loop to spin.
 *
 * The engine is spawned detached: if smx dies of a bug, the demo engine keeps running and the
 * next smx finds it by its port file instead of starting a second one. stop() is the clean path:
 * SIGTERM, the engine removes its port file, no restart.
 *
 *   const sup = await DemoSupervisor.start({ log: (level, msg) => log[level](msg) });
 *   sup.demo?.url; ... await sup.stop();
 */
import { spawnDemoEngine, type SpawnDemoOptions, type SpawnedDemo } from "./spawn.ts";

export interface DemoSupervisorOptions extends Omit<SpawnDemoOptions, "detached"> {
  log?: (level: "info" | "warn" | "error", msg: string) => void;
  /** Delay before the first restart; doubles per fast crash in a row. Default 250 ms. */
  backoffMs?: number;
  /** Longest delay between restarts. Default 8000 ms. */
  maxBackoffMs?: number;
  /** A run shorter than this counts as a fast crash. Default 10000 ms. */
  fastCrashMs?: number;
  /** Give up after this many fast crashes in a row. Default 5. */
  maxFastCrashes?: number;
  /** Each engine started after a crash, once it is ready. */
  onRestart?: (demo: SpawnedDemo) => void;
  /** Called once when the supervisor gives up; `reason` is the logged message. */
  onGiveUp?: (reason: string) => void;
}

/** running: an engine is up; restarting: between a crash and the next ready engine. */
export type SupervisorState = "running" | "restarting" | "gave-up" | "stopped";

const tail = (s: string, n = 1500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();

export class DemoSupervisor {
  #demo: SpawnedDemo | null = null;
  #state: SupervisorState = "running";
  #restarts = 0;
  #fastCrashes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopping: Promise<void> | undefined;
  #log: NonNullable<DemoSupervisorOptions["log"]>;

  private constructor(private opts: DemoSupervisorOptions) {
    this.#log = opts.log ?? ((level, msg) => console.error(`[demo supervisor] ${level}: ${msg}`));
  }

  /** Starts the engine and waits until it is ready; throws if that first start fails. */
  static async start(opts: DemoSupervisorOptions = {}): Promise<DemoSupervisor> {
    const sup = new DemoSupervisor(opts);
    sup.#watch(await sup.#spawn());
    return sup;
  }

  /** The engine now running (null while restarting, after giving up or stopping). */
  get demo(): SpawnedDemo | null {
    return this.#demo;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** Engines started after a crash. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Stops the engine cleanly (SIGTERM: it removes its port file) and restarts nothing more. */
  stop(): Promise<void> {
    return this.#stopping ??= (async () => {
      this.#state = "stopped";
      clearTimeout(this.#timer);
      const d = this.#demo;
      this.#demo = null;
      await d?.stop("SIGTERM");
    })();
  }

  #spawn(): Promise<SpawnedDemo> {
    return spawnDemoEngine({ ...this.opts, detached: true });
  }

  #watch(demo: SpawnedDemo): void {
    this.#demo = demo;
    this.#state = "running";
    const started = performance.now();
    demo.child.status.then((s) => {
      if (this.#stopping || this.#demo !== demo) return;
      this.#demo = null;
      const how = s.signal ? `was killed by ${s.signal}` : `exited with code ${s.code}`;
      const lived = performance.now() - started;
      this.#crashed(
        `demo engine "${demo.name}" (pid ${demo.pid}) ${how} after ${(lived / 1000).toFixed(1)} s`,
        lived,
        demo.output(),
      );
    });
  }

  /** One crash: restart after a backoff, or give up after too many fast ones in a row. */
  #crashed(what: string, livedMs: number, output: string): void {
    const fast = livedMs < (this.opts.fastCrashMs ?? 10000);
    this.#fastCrashes = fast ? this.#fastCrashes + 1 : 0;
    const max = this.opts.maxFastCrashes ?? 5;
    if (this.#fastCrashes >= max) {
      this.#state = "gave-up";
      const why = `${what}; it crashed ${this.#fastCrashes} times within ` +
        `${(this.opts.fastCrashMs ?? 10000) / 1000} s of starting, not restarting it again` +
        ` (start an engine yourself, or fix what its output says):\n${tail(output)}`;
      this.#log("error", why);
      this.opts.onGiveUp?.(why);
      return;
    }
    const base = this.opts.backoffMs ?? 250;
    const delay = Math.min(
      this.opts.maxBackoffMs ?? 8000,
      base * 2 ** Math.max(0, this.#fastCrashes - 1),
    );
    this.#state = "restarting";
    this.#log("warn", `${what}; restarting it in ${delay} ms`);
    this.#timer = setTimeout(() => this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    const t0 = performance.now();
    let demo: SpawnedDemo;
    try {
      demo = await this.#spawn();
    } catch (e) { // it did not even get ready: a crash that lived no time at all
      if (this.#stopping) return;
      this.#crashed("demo engine failed to start", performance.now() - t0, (e as Error).message);
      return;
    }
    if (this.#stopping) return void await demo.stop("SIGTERM");
    this.#restarts++;
    this.#log("info", `demo engine "${demo.name}" restarted (pid ${demo.pid}) on ${demo.url}`);
    this.#watch(demo);
    this.opts.onRestart?.(demo);
  }
}

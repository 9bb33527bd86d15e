/**
 * Keeps one hub connection to an engine alive: resolve the target (discovery runs again on every
 * attempt, so a restarted engine with a new port and token is found), fetch its descriptor,
 * open the hub socket, wait for the snapshot; on loss, retry with capped exponential backoff and
 * jitter (100 ms doubling to 0.5 s, each delay × 0.5–1.0 so many smx instances do not stampede).
 */
import type { EngineDescriptor } from "../../protocol/engine_descriptor.ts";
import { ParamClient } from "../../protocol/params_client.ts";
import { fetchHello } from "./discovery.ts";

export interface EngineTarget {
  /** HTTP base, e.g. http://127.0.0.1:47800. */
  url: string;
  token?: string;
  name?: string;
}

/** Returns the engine to connect to now, or null when none is found. */
export type TargetResolver = () => Promise<EngineTarget | null>;

export interface LinkEvents {
  connecting(target: EngineTarget): void;
  connected(client: ParamClient, target: EngineTarget, descriptor: EngineDescriptor): void;
  /** Not connected; `message` says why in words (shown in the UI and /hello). */
  offline(message: string): void;
}

export interface LinkOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  connectTimeoutMs?: number;
  pingMs?: number;
  deadMs?: number;
  writeTimeoutMs?: number;
}

export class EngineLink {
  #stopped = false;
  #wake: AbortController = new AbortController();
  #client: ParamClient | null = null;
  #loop: Promise<void> | null = null;
  #attempt = 0;

  constructor(
    private resolve: TargetResolver,
    private events: LinkEvents,
    private opts: LinkOptions = {},
  ) {}

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Switches to another engine (UI choice): drops the current link and resolves again. */
  retarget(resolve: TargetResolver): void {
    this.resolve = resolve;
    this.#attempt = 0;
    this.#client?.close(1000, "switching engine");
    this.#wake.abort();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#client?.close(1001, "smx shutting down");
    this.#wake.abort();
    await this.#loop;
  }

  #delay(): number {
    // The engine runs on this machine: an attempt costs a loopback connect and a port-file scan,
    // so a short cap is cheap, and an engine that comes back is linked (and its video flowing)
    // within about half a second rather than after a multi-second backoff.
    const base = Math.min(
      this.opts.maxBackoffMs ?? 500,
      (this.opts.initialBackoffMs ?? 100) * 2 ** Math.min(this.#attempt++, 16),
    );
    return base * (0.5 + 0.5 * Math.random());
  }

  /** Sleeps, but wakes early on stop() or retarget(). */
  async #sleep(ms: number): Promise<void> {
    if (this.#stopped) return;
    if (this.#wake.signal.aborted) { // woken before we slept: do not sleep at all
      this.#wake = new AbortController();
      return;
    }
    const signal = this.#wake.signal;
    await new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      signal.addEventListener("abort", () => (clearTimeout(t), res()), { once: true });
    });
    if (signal.aborted) this.#wake = new AbortController();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const message = await this.#once();
      if (this.#stopped) break;
      this.events.offline(message);
      await this.#sleep(this.#delay());
    }
    this.events.offline("stopped");
  }

  /** One attempt; returns why the link is not (or no longer) up. */
  async #once(): Promise<string> {
    let target: EngineTarget | null;
    try {
      target = await this.resolve();
    } catch (e) {
      return `engine discovery failed: ${(e as Error).message}`;
    }
    if (!target) return "no engine found (start one, or pass --engine URL)";
    if (!target.token) {
      return `engine at ${target.url} needs a token: pass --engine ${target.url}/?token=…`;
    }
    this.events.connecting(target);
    const timeout = this.opts.connectTimeoutMs ?? 3000;
    const hello = await fetchHello(target.url, target.token, timeout);
    if (!hello) return `${target.url}/hello did not answer`;
    if (hello.authRequired) return `${target.url} refused the token (engine restarted?)`;
    const d = hello as EngineDescriptor;
    const ws = target.url.replace(/^http/, "ws") + (d.transports?.hub ?? "/ws/hub") +
      `?token=${encodeURIComponent(target.token)}`;
    const client = new ParamClient(ws, {
      pingMs: this.opts.pingMs,
      deadMs: this.opts.deadMs,
      writeTimeoutMs: this.opts.writeTimeoutMs,
    });
    this.#client = client;
    let closeReason = "";
    const closed = new Promise<void>((res) =>
      client.subscribe((e) => {
        if (e.type === "close") (closeReason = `${e.reason} (${e.code})`, res());
      })
    );
    const timer = setTimeout(() => client.close(4001, "no snapshot in time"), timeout);
    try {
      await client.ready;
    } catch (e) {
      return `hub at ${target.url} failed: ${(e as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    if (this.#stopped) {
      client.close();
      return "stopped";
    }
    this.#attempt = 0;
    this.events.connected(client, target, d);
    await closed;
    this.#client = null;
    return `engine link lost: ${closeReason}`;
  }
}

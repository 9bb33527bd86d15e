/**
 * Demo engines as real processes for tests and benchmarks: `deno run -A demo/main.ts …` with a
 * private port-file folder, waiting for its `{"event":"ready",…}` line. Hub-only (`--outputs
 * none`) unless asked, so parallel test runs on a small machine do not spend CPU on rendering.
 */
import { spawnDemoEngine, type SpawnedDemo } from "../../demo/spawn.ts";

export interface DemoProc extends SpawnedDemo {
  kill(signal?: Deno.Signal): Promise<void>;
}

export interface DemoProcOptions {
  name: string;
  portDir: string;
  port?: number;
  outputs?: boolean;
  debug?: boolean;
  ambient?: boolean;
  specPath?: string;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** Test defaults: any free port, hub only, debug endpoints on. */
export async function startDemoEngine(o: DemoProcOptions): Promise<DemoProc> {
  const e = await spawnDemoEngine({
    ...o,
    port: o.port ?? 0,
    outputs: o.outputs ?? false,
    debug: o.debug ?? true,
  });
  return { ...e, kill: e.stop };
}

/** GET/POST a token-protected debug endpoint of a demo engine. */
export async function engineDebug(e: DemoProc, path: string, method = "GET"): Promise<unknown> {
  const res = await fetch(`${e.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${e.token}` },
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** Polls `cond` every 20 ms until true; throws with `what` after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

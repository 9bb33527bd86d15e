/**
 * Starts the demo engine as its own process and waits for its ready line — for `smx start` when
 * no engine is found, for tests and for benchmarks. The engine keeps running until stop().
 */
import { fileURLToPath } from "node:url";
import { spawnUntilReady } from "./ready_process.ts";

export interface SpawnDemoOptions {
  name?: string;
  /** Port-file folder (`--port-dir`); default: the engine's own default. */
  portDir?: string;
  /** 0 = any free port; absent = the engine's default (47800.., then any). */
  port?: number;
  /** false → `--outputs none` (hub only, no native shim needed). Default true. */
  outputs?: boolean;
  debug?: boolean;
  ambient?: boolean;
  specPath?: string;
  extraArgs?: string[];
  /**
   * How to run the engine. Default: [deno, "run", "-A", demo/main.ts]. A compiled smx passes
   * [Deno.execPath(), "demo-engine"].
   */
  command?: string[];
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Keep running when the spawning process dies abnormally (see spawnUntilReady). */
  detached?: boolean;
}

export interface SpawnedDemo {
  port: number;
  pid: number;
  name: string;
  token: string;
  instanceId: string;
  url: string;
  portFile: string | null;
  outputsError: string | null;
  child: Deno.ChildProcess;
  /** Everything the engine printed so far (for error messages). */
  output(): string;
  /** SIGTERM (clean: removes the port file) or SIGKILL (a crash). */
  stop(signal?: Deno.Signal): Promise<void>;
}

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export async function spawnDemoEngine(o: SpawnDemoOptions = {}): Promise<SpawnedDemo> {
  const [cmd, ...pre] = o.command ?? [Deno.execPath(), "run", "-A", MAIN];
  const args = [
    ...pre,
    ...(o.port !== undefined ? ["--port", String(o.port)] : []),
    ...(o.name ? ["--name", o.name] : []),
    ...(o.portDir ? ["--port-dir", o.portDir] : []),
    ...(o.outputs === false ? ["--outputs", "none"] : []),
    ...(o.debug ? ["--debug"] : []),
    ...(o.ambient === false ? ["--no-ambient"] : []),
    ...(o.specPath ? ["--spec", o.specPath] : []),
    ...(o.extraArgs ?? []),
  ];
  const p = await spawnUntilReady(cmd, args, {
    env: o.env,
    ready: /^\{"event":"ready".*\}$/m,
    timeoutMs: o.timeoutMs ?? 20000,
    what: "demo engine",
    detached: o.detached,
  });
  const ready: Record<string, unknown> = JSON.parse(p.match[0]);
  return {
    port: ready.port as number,
    pid: ready.pid as number,
    name: ready.name as string,
    token: ready.token as string,
    instanceId: ready.instanceId as string,
    url: ready.url as string,
    portFile: (ready.portFile as string | null) ?? null,
    outputsError: (ready.outputsError as string | null) ?? null,
    child: p.child,
    output: p.output,
    stop: p.stop,
  };
}

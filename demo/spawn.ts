/**
 * Starts the demo engine as its own process and waits for its ready line — for `smx start` when
 * no engine is found, for tests and for benchmarks. The engine keeps running until stop().
 */
import { fileURLToPath } from "node:url";

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
  const child = new Deno.Command(cmd, {
    args,
    env: { NO_COLOR: "1", ...o.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let out = "";
  const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      out += dec.decode(chunk, { stream: true });
      if (out.length > 1 << 20) out = out.slice(-(1 << 19)); // a chatty engine must not grow us
      const m = /^\{"event":"ready".*\}$/m.exec(out);
      if (m) resolve(JSON.parse(m[0]));
    }
  };
  pump(child.stdout).catch(() => {});
  pump(child.stderr).catch(() => {});
  child.status.then((s) =>
    reject(new Error(`demo engine exited (${s.code}) before ready:\n${out}`))
  );
  const timeoutMs = o.timeoutMs ?? 20000;
  const timer = setTimeout(
    () => reject(new Error(`demo engine not ready in ${timeoutMs} ms:\n${out}`)),
    timeoutMs,
  );
  let ready: Record<string, unknown>;
  try {
    ready = await promise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    port: ready.port as number,
    pid: ready.pid as number,
    name: ready.name as string,
    token: ready.token as string,
    instanceId: ready.instanceId as string,
    url: ready.url as string,
    portFile: (ready.portFile as string | null) ?? null,
    outputsError: (ready.outputsError as string | null) ?? null,
    child,
    output: () => out,
    stop: async (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/**
 * Demo engines as real processes for tests and benchmarks: `deno run -A demo/main.ts …` with a
 * private port-file folder, waiting for its `{"event":"ready",…}` line. Hub-only (`--outputs
 * none`) unless asked, so parallel test runs on a small machine do not spend CPU on rendering.
 */
import { join } from "node:path";
import { ROOT } from "./processes.ts";

export interface DemoProc {
  port: number;
  pid: number;
  name: string;
  token: string;
  instanceId: string;
  url: string;
  portFile: string | null;
  child: Deno.ChildProcess;
  output(): string;
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

export async function startDemoEngine(o: DemoProcOptions): Promise<DemoProc> {
  const args = [
    "run",
    "-A",
    join(ROOT, "demo", "main.ts"),
    "--port",
    String(o.port ?? 0),
    "--name",
    o.name,
    "--port-dir",
    o.portDir,
    "--outputs",
    o.outputs ? "default" : "none",
    ...(o.debug === false ? [] : ["--debug"]),
    ...(o.ambient === false ? ["--no-ambient"] : []),
    ...(o.specPath ? ["--spec", o.specPath] : []),
    ...(o.extraArgs ?? []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1" },
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
      const m = /^\{"event":"ready".*\}$/m.exec(out);
      if (m) resolve(JSON.parse(m[0]));
    }
  };
  pump(child.stdout).catch(() => {});
  pump(child.stderr).catch(() => {});
  child.status.then((s) => reject(new Error(`demo engine exited ${s.code} before ready:\n${out}`)));
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
    } catch { /* gone */ }
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
    portFile: ready.portFile as string | null,
    child,
    output: () => out,
    kill: async (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
    },
  };
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

/**
 * Real processes for end-to-end tests: the demo engine and smx, each started the way a user
 * starts them (`deno run -A main.ts …`), on free ports, in a private engine directory so parallel
 * tests never see each other's engines. Output is kept for the failure message.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Proc {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  output(): string;
  /** SIGKILL (a crash) or SIGTERM (a clean stop). */
  kill(signal?: Deno.Signal): Promise<void>;
}

/** Starts `deno run -A main.ts <args>` and waits for a "listening on http://…:PORT" line. */
export async function startMainTs(
  args: string[],
  opts: { env?: Record<string, string>; readyPattern?: RegExp; timeoutMs?: number } = {},
): Promise<Proc> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let out = "";
  const pattern = opts.readyPattern ?? /listening on (http:\/\/[^\s/]+:(\d+))/;
  const { promise, resolve, reject } = Promise.withResolvers<[string, number]>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      out += dec.decode(chunk, { stream: true });
      const m = pattern.exec(out);
      if (m) resolve([m[1], Number(m[2])]);
    }
  };
  pump(child.stdout).catch(() => {});
  pump(child.stderr).catch(() => {});
  child.status.then((s) => reject(new Error(`exited with ${s.code} before ready:\n${out}`)));
  const timer = setTimeout(
    () => reject(new Error(`not ready in ${opts.timeoutMs ?? 30000} ms:\n${out}`)),
    opts.timeoutMs ?? 30000,
  );
  let url: string, port: number;
  try {
    [url, port] = await promise;
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
    url,
    port,
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

/** A private directory for engine port files. */
export function tempEngineDir(): string {
  return Deno.makeTempDirSync({ prefix: "smx-engines-" });
}

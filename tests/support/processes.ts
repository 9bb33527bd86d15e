/**
 * Real processes for end-to-end tests: the demo engine and smx, each started the way a user
 * starts them (`deno run -A main.ts …`), on free ports, in a private engine directory so parallel
 * tests never see each other's engines. Output is kept for the failure message.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnUntilReady } from "../../demo/ready_process.ts";

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
  const p = await spawnUntilReady(Deno.execPath(), ["run", "-A", join(ROOT, "main.ts"), ...args], {
    env: opts.env,
    ready: opts.readyPattern ?? /listening on (http:\/\/[^\s/]+:(\d+))/,
    timeoutMs: opts.timeoutMs ?? 30000,
    what: "smx",
  });
  return {
    url: p.match[1],
    port: Number(p.match[2]),
    child: p.child,
    output: p.output,
    kill: p.stop,
  };
}

/** A private directory for engine port files. */
export function tempEngineDir(): string {
  return Deno.makeTempDirSync({ prefix: "smx-engines-" });
}

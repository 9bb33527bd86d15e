/** Helpers shared by the per-target native builds (scripts/native/linux.ts, windows.ts). */
import { join } from "node:path";

export interface RunResult {
  ok: boolean;
  out: string;
}

/** Runs a tool and collects stdout + stderr; a missing tool is `ok: false`, "<cmd>: not found". */
export async function run(cmd: string, args: string[]): Promise<RunResult> {
  try {
    const res = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: res.success, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, out: `${cmd}: not found` };
    throw e;
  }
}

/** Modification time in ms, 0 when the file does not exist. */
export function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** `.c` and `.h` files directly in `dir`, sorted, as full paths (none when `dir` is missing). */
export function cAndHeaders(dir: string): string[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return entries
    .filter((e) => e.isFile && (e.name.endsWith(".c") || e.name.endsWith(".h")))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Whether `output` is newer than every input (and --force was not given). */
export function upToDate(output: string, inputs: string[]): boolean {
  const newest = Math.max(...inputs.map(mtime));
  return mtime(output) > newest && !Deno.args.includes("--force");
}

/** `SMX_WERROR=1`: warnings are errors (the test command builds this way). */
export function werror(): string[] {
  return Deno.env.get("SMX_WERROR") === "1" ? ["-Werror"] : [];
}

/** Extra compiler flags from `SMX_CFLAGS`. */
export function extraFlags(): string[] {
  return (Deno.env.get("SMX_CFLAGS") ?? "").split(/\s+/).filter(Boolean);
}

/**
 * Engine port files: `engine.<pid>.port`, JSON `{port, pid, startedUtc, name, token, ...}`, one per
 * running engine, in a per-user folder. Engines write them (demo/port_file.ts uses writePortFile),
 * smx reads them to find engines and their tokens.
 *
 * Folder, first match wins: $SMX_ENGINE_DIR (tests, custom setups); Windows
 * %LOCALAPPDATA%\SpaceMusic; macOS ~/Library/Application Support/SpaceMusic; Linux
 * $XDG_RUNTIME_DIR/spacemusic (per-user, tmpfs, 0700 by systemd), else <tmp>/spacemusic-<uid>.
 */
import { join } from "node:path";
import { homedir, tmpdir } from "node:os";
import type { EnginePortFile } from "../../protocol/engine_descriptor.ts";

const PORT_FILE_RE = /^engine\.(\d+)\.port$/;

export function engineDir(): string {
  const override = Deno.env.get("SMX_ENGINE_DIR");
  if (override) return override;
  if (Deno.build.os === "windows") {
    const base = Deno.env.get("LOCALAPPDATA") ?? join(homedir(), "AppData", "Local");
    return join(base, "SpaceMusic");
  }
  if (Deno.build.os === "darwin") {
    return join(homedir(), "Library", "Application Support", "SpaceMusic");
  }
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdg) return join(xdg, "spacemusic");
  return join(tmpdir(), `spacemusic-${Deno.uid() ?? "user"}`);
}

export function portFilePath(dir: string, pid: number): string {
  return join(dir, `engine.${pid}.port`);
}

/** Writes atomically (temp file + rename) with mode 0600: the file carries the token. */
export function writePortFile(dir: string, info: EnginePortFile): string {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = portFilePath(dir, info.pid);
  const tmp = `${path}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(info) + "\n", { mode: 0o600 });
  if (Deno.build.os !== "windows") Deno.chmodSync(tmp, 0o600); // mode is masked by umask
  Deno.renameSync(tmp, path);
  return path;
}

export function removePortFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

export interface FoundPortFile {
  path: string;
  info: EnginePortFile;
}

/** Reads every well-formed port file in `dir`; malformed ones are reported, not thrown. */
export async function readPortFiles(
  dir = engineDir(),
): Promise<{ files: FoundPortFile[]; problems: string[] }> {
  const files: FoundPortFile[] = [];
  const problems: string[] = [];
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && PORT_FILE_RE.test(e.name)) names.push(e.name);
    }
  } catch {
    return { files, problems }; // no folder: no engines
  }
  names = names.sort();
  for (const name of names) {
    const path = join(dir, name);
    try {
      const info = JSON.parse(await Deno.readTextFile(path)) as EnginePortFile;
      if (
        typeof info.port !== "number" || typeof info.pid !== "number" ||
        typeof info.token !== "string"
      ) throw new Error("missing port, pid or token");
      files.push({ path, info });
    } catch (e) {
      problems.push(`${path}: ${(e as Error).message}`);
    }
  }
  return { files, problems };
}

/**
 * Whether a process id is alive. Linux: /proc/<pid>. Elsewhere we cannot tell cheaply and say
 * "maybe" (true); the /hello check that follows sorts it out.
 */
export function pidAlive(pid: number): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `denort` runtime deno compile builds on. deno compile downloads
 * `denort-<target>.zip` for its own version into `$DENO_DIR/dl/release/v<version>/` (and uses
 * that copy offline afterwards), unless `DENORT_BIN` names an unpacked runtime — which it then
 * uses for EVERY target. So one DENORT_BIN is passed on only to the target whose format it has
 * (ELF: Linux, PE: Windows); `DENORT_BIN_LINUX` / `DENORT_BIN_WINDOWS` name one per target.
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { ReleaseTarget } from "./targets.ts";

export type BinaryFormat = "elf" | "pe" | "macho" | "zip" | "unknown";

export function binaryFormat(head: Uint8Array): BinaryFormat {
  if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return "elf";
  if (head[0] === 0x4d && head[1] === 0x5a) return "pe";
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return "zip";
  const m = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.byteLength >= 4 && [0xfeedfacf, 0xcffaedfe].includes(m.getUint32(0))) return "macho";
  return "unknown";
}

function formatFor(t: ReleaseTarget): BinaryFormat {
  return t.name === "windows" ? "pe" : "elf";
}

function head(path: string): Uint8Array {
  const f = Deno.openSync(path);
  try {
    const b = new Uint8Array(4);
    const n = f.readSync(b) ?? 0;
    return b.subarray(0, n);
  } finally {
    f.close();
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    if (Deno.statSync(a).size !== Deno.statSync(b).size) return false;
    const h = (p: string) => createHash("sha256").update(Deno.readFileSync(p)).digest("hex");
    return h(a) === h(b);
  } catch {
    return false;
  }
}

export function denoDir(env: (k: string) => string | undefined = (k) => Deno.env.get(k)): string {
  const dir = env("DENO_DIR");
  if (dir) return dir;
  if (Deno.build.os === "windows") return join(env("LOCALAPPDATA") ?? "", "deno");
  if (Deno.build.os === "darwin") return join(env("HOME") ?? "", "Library", "Caches", "deno");
  return join(env("XDG_CACHE_HOME") || join(env("HOME") ?? "", ".cache"), "deno");
}

/** Where deno compile keeps (and looks for) the downloaded runtime of `t`. */
export function cachedRuntimePath(
  t: ReleaseTarget,
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): string {
  return join(
    denoDir(env),
    "dl",
    "release",
    `v${Deno.version.deno}`,
    `denort-${t.triple}.zip`,
  );
}

export interface RuntimeChoice {
  /** DENORT_BIN for the deno compile child (undefined: none, let deno use its cache or download). */
  denortBin?: string;
  /** One line for the user: what will be used, and why. */
  note: string;
}

/** Which runtime deno compile will use for `t`; throws for a DENORT_BIN that cannot work. */
export function chooseRuntime(
  t: ReleaseTarget,
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): RuntimeChoice {
  const specific = `DENORT_BIN_${t.name.toUpperCase()}`;
  const [name, path] = env(specific)
    ? [specific, env(specific)!]
    : ["DENORT_BIN", env("DENORT_BIN")];
  if (path) {
    let fmt: BinaryFormat;
    try {
      fmt = binaryFormat(head(path));
    } catch (e) {
      throw new Error(`${name}=${path}: cannot read it (${(e as Error).message})`);
    }
    if (fmt === "zip") {
      throw new Error(
        `${name}=${path} is a zip: unzip it and point ${name} at the denort inside, or copy the ` +
          `zip unchanged to ${cachedRuntimePath(t, env)} and unset ${name}`,
      );
    }
    if (fmt !== formatFor(t)) {
      if (name === specific) {
        throw new Error(`${name}=${path} is ${fmt}, not a ${formatFor(t)} runtime for ${t.triple}`);
      }
      return {
        note: `DENORT_BIN=${path} is a ${fmt} binary, not for ${t.triple}: not used for this ` +
          `target (set ${specific} for it); deno compile looks for its own runtime`,
      };
    }
    if (sameFile(path, Deno.execPath())) {
      throw new Error(
        `${name}=${path} is deno itself: a binary built on it only opens the REPL. ` +
          `Use denort from denort-${t.triple}.zip of Deno ${Deno.version.deno}`,
      );
    }
    return { denortBin: path, note: `using ${name}=${path} as the runtime for ${t.triple}` };
  }
  const cached = cachedRuntimePath(t, env);
  try {
    Deno.statSync(cached);
    return { note: `DENORT_BIN not set: using deno's cached runtime ${cached}` };
  } catch {
    return {
      note: `DENORT_BIN not set: deno compile downloads denort-${t.triple}.zip ` +
        `for Deno ${Deno.version.deno}`,
    };
  }
}

/** What to do when deno compile failed for `t`, after the error it printed. */
export function runtimeAdvice(t: ReleaseTarget, output: string): string {
  const download = /dl\.deno\.land|Setting up base binary|error sending request|dns error/i
    .test(output);
  const zip = `denort-${t.triple}.zip`;
  const lines = [
    download
      ? `deno compile could not get the ${t.triple} runtime (denort) for Deno ${Deno.version.deno}.`
      : `deno compile failed for ${t.triple} (see its error above).`,
  ];
  if (download) {
    lines.push(
      `On a machine with internet, download https://dl.deno.land/release/v${Deno.version.deno}/${zip}`,
      `(the runtime of exactly this Deno version), then either`,
      `  - unzip it and set DENORT_BIN=/path/to/${t.name === "windows" ? "denort.exe" : "denort"}` +
        ` (or DENORT_BIN_${t.name.toUpperCase()} when building several targets), or`,
      `  - copy the zip unchanged to ${cachedRuntimePath(t)} (deno compile then uses it offline)`,
      `and run \`deno task compile --target ${t.name}\` again.`,
    );
  }
  return lines.join("\n");
}

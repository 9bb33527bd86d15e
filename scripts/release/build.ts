/**
 * The steps of `deno task compile` (scripts/compile.ts) as functions, so tests can run each:
 * which shim a target needs and whether it is built, the staging, and deno compile itself with
 * the runtime choice (scripts/release/denort.ts) and a precise message when it fails.
 */
import { join } from "node:path";
import { compileArgs, EMBED_DIR, OPTIONAL_MODULES, type ReleaseTarget } from "./targets.ts";
import { buildUiFiles, stageShim, stageUi } from "./stage.ts";
import { chooseRuntime, runtimeAdvice } from "./denort.ts";

export interface ShimStatus {
  path: string;
  built: boolean;
  /** Why not, and what to do ("" when built). */
  why: string;
}

export function shimStatus(root: string, t: ReleaseTarget): ShimStatus {
  const path = join(root, "ffi", "native", "build", t.shim);
  try {
    if (Deno.statSync(path).isFile) return { path, built: true, why: "" };
  } catch { /* not built */ }
  const how = t.name === "windows"
    ? "`deno task build:native` cross-builds it with mingw-w64 (apt-get install " +
      "gcc-mingw-w64-x86-64); see ffi/native/win/README.md"
    : "`deno task build:native` builds it (it names any missing Debian package)";
  return { path, built: false, why: `${path} is not built: ${how}` };
}

/** The optional modules (targets.ts) this checkout has, to embed. */
export function presentOptionalModules(root: string): string[] {
  return OPTIONAL_MODULES.filter((m) => {
    try {
      return Deno.statSync(join(root, m)).isFile;
    } catch {
      return false;
    }
  });
}

/** Builds the UI and stages it under <root>/dist/embed/ui; returns how many files. */
export async function stageUiFor(root: string): Promise<number> {
  const files = await buildUiFiles();
  return stageUi(join(root, EMBED_DIR), files).files.length;
}

export interface CompileResult {
  ok: boolean;
  /** What deno compile printed (stdout + stderr). */
  output: string;
  /** The runtime note, then on failure what to do. */
  message: string;
}

/**
 * Stages `t`'s shim and runs deno compile for it (the UI must be staged already). Prints deno's
 * output as it goes when `echo` is set.
 */
export async function compileTarget(
  root: string,
  t: ReleaseTarget,
  o: {
    check?: boolean;
    echo?: boolean;
    env?: (k: string) => string | undefined;
    /** Kills deno compile (e.g. a download that hangs instead of failing). */
    signal?: AbortSignal;
  } = {},
): Promise<CompileResult> {
  const shim = shimStatus(root, t);
  if (!shim.built) return { ok: false, output: "", message: `skipped ${t.name}: ${shim.why}` };
  stageShim(join(root, EMBED_DIR), shim.path, t.triple);
  let runtime;
  try {
    runtime = chooseRuntime(t, o.env);
  } catch (e) {
    return { ok: false, output: "", message: (e as Error).message };
  }
  if (o.echo) console.log(runtime.note);
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.DENORT_BIN;
  if (runtime.denortBin) env.DENORT_BIN = runtime.denortBin;
  const args = compileArgs(t, { check: o.check, optionalModules: presentOptionalModules(root) });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    signal: o.signal,
  }).spawn();
  const dec = new TextDecoder();
  let output = "";
  const pump = async (s: ReadableStream<Uint8Array>, to: typeof Deno.stdout) => {
    for await (const chunk of s) {
      output += dec.decode(chunk, { stream: true });
      if (o.echo) await to.write(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ]);
  if (status.success) return { ok: true, output, message: runtime.note };
  return { ok: false, output, message: `${runtime.note}\n${runtimeAdvice(t, output)}` };
}

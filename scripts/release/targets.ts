/**
 * The release targets `deno task compile` builds, and the `deno compile` argument list for each.
 * Everything the binary embeds is staged under dist/embed/ first (scripts/release/stage.ts), so
 * the list of includes is the same for every target; only the shim in dist/embed/shim differs.
 */
export interface ReleaseTarget {
  /** The --target flag value of scripts/compile.ts. */
  name: "linux" | "windows";
  /** deno compile --target. */
  triple: string;
  /** The shim file the platform loads (ffi/native/build/<shim>). */
  shim: string;
  /** Output, relative to the repository root. */
  output: string;
}

export const TARGETS: readonly ReleaseTarget[] = [
  {
    name: "linux",
    triple: "x86_64-unknown-linux-gnu",
    shim: "libsmx.so",
    output: "dist/smx-linux-x64",
  },
  {
    name: "windows",
    triple: "x86_64-pc-windows-msvc",
    shim: "smx.dll",
    output: "dist/smx-windows-x64.exe",
  },
];

/** The staging directory deno compile embeds (relative to the root; see server/release/). */
export const EMBED_DIR = "dist/embed";

/**
 * Modules main.ts reaches only through non-literal dynamic imports (optional, platform-specific:
 * they may not exist in a checkout), embedded explicitly when present.
 */
export const OPTIONAL_MODULES = ["ffi/spout.ts", "ffi/win_encoder.ts"];

export function targetByName(name: string): ReleaseTarget {
  const t = TARGETS.find((t) => t.name === name);
  if (!t) throw new Error(`unknown target "${name}" (linux, windows or all)`);
  return t;
}

/** Arguments after `deno`: compile everything under -A with the staged files included. */
export function compileArgs(
  t: ReleaseTarget,
  o: { check?: boolean; optionalModules?: string[] } = {},
): string[] {
  return [
    "compile",
    "-A",
    ...(o.check === false ? ["--no-check"] : []),
    "--target",
    t.triple,
    "--include",
    EMBED_DIR,
    ...(o.optionalModules ?? []).flatMap((m) => ["--include", m]),
    "--output",
    t.output,
    "main.ts",
  ];
}

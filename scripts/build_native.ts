/**
 * Builds the native shim (ffi/native/*.c) into ffi/native/build/libsmx.so with gcc + pkg-config.
 *
 * Rebuilds only when a source or header is newer than the library. When a tool or a development
 * package is missing it names the Debian package to install instead of failing with a compiler
 * wall of text. `SMX_CFLAGS` adds flags (e.g. `-O0 -g -fsanitize=address`).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = join(root, "ffi", "native");
const buildDir = join(nativeDir, "build");
// SMX_SHIM_OUT builds elsewhere (a private copy while iterating); SMX_NATIVE_SOURCES limits the
// build to a comma list of .c files (plus smx_common.c).
const output = Deno.env.get("SMX_SHIM_OUT") ?? join(buildDir, "libsmx.so");
const only = (Deno.env.get("SMX_NATIVE_SOURCES") ?? "").split(",").filter(Boolean);

/** pkg-config module → Debian package that provides it. */
const PKG_MODULES: Record<string, string> = {
  libavcodec: "libavcodec-dev",
  libavutil: "libavutil-dev",
  libswscale: "libswscale-dev",
  libturbojpeg: "libturbojpeg0-dev", // ffi/native/jpeg.c (TurboJPEG API of libjpeg-turbo)
};
/** Headers found without pkg-config → Debian package. */
const HEADERS: Record<string, string> = { "/usr/include/libyuv.h": "libyuv-dev" };

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const res = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: res.success, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, out: `${cmd}: not found` };
    throw e;
  }
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

const sources = [...Deno.readDirSync(nativeDir)]
  .filter((e) => e.isFile && (e.name.endsWith(".c") || e.name.endsWith(".h")))
  .filter((e) =>
    !only.length || e.name.endsWith(".h") || e.name === "smx_common.c" || only.includes(e.name)
  )
  .map((e) => join(nativeDir, e.name))
  .sort();
const newest = Math.max(...sources.map(mtime), mtime(fileURLToPath(import.meta.url)));
if (mtime(output) > newest && !Deno.args.includes("--force")) {
  console.log(`native shim up to date: ${output}`);
  Deno.exit(0);
}

const missing: string[] = [];
for (const tool of ["gcc", "pkg-config"]) {
  if (!(await run(tool, ["--version"])).ok) missing.push(tool);
}
if (missing.length === 0) {
  for (const [mod, pkg] of Object.entries(PKG_MODULES)) {
    if (!(await run("pkg-config", ["--exists", mod])).ok) missing.push(pkg);
  }
}
for (const [header, pkg] of Object.entries(HEADERS)) {
  if (mtime(header) === 0) missing.push(pkg);
}
if (missing.length) {
  console.error(
    `cannot build the native shim: missing ${missing.join(", ")}.\n` +
      `install with: apt-get install -y ${missing.join(" ")}   (or run: bash scripts/setup.sh)`,
  );
  Deno.exit(1);
}

const pc = await run("pkg-config", ["--cflags", "--libs", ...Object.keys(PKG_MODULES)]);
const extra = (Deno.env.get("SMX_CFLAGS") ?? "").split(/\s+/).filter(Boolean);
Deno.mkdirSync(dirname(output), { recursive: true });
const tmp = `${output}.tmp`;
const args = [
  "-shared",
  "-fPIC",
  "-O2",
  "-g",
  "-std=gnu11",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
  "-fvisibility=hidden",
  ...extra,
  "-o",
  tmp,
  ...sources.filter((s) => s.endsWith(".c")),
  ...pc.out.trim().split(/\s+/).filter(Boolean),
  "-lyuv",
  "-lpthread",
  "-ldl",
  "-lm",
];
const t0 = performance.now();
const res = await run("gcc", args);
if (!res.ok) {
  console.error(`gcc failed:\n${res.out}`);
  Deno.exit(1);
}
if (res.out.trim()) console.log(res.out.trim());
Deno.renameSync(tmp, output); // atomic: a running process keeps its mapped copy
console.log(`built ${output} in ${Math.round(performance.now() - t0)} ms`);

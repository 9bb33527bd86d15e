/**
 * Linux target: every ffi/native/*.c into ffi/native/build/libsmx.so with gcc + pkg-config.
 *
 * When a tool or a development package is missing it names the Debian package to install instead
 * of failing with a compiler wall of text. `SMX_SHIM_OUT` builds elsewhere (a private copy while
 * iterating); `SMX_NATIVE_SOURCES` limits the build to a comma list of .c files (plus
 * smx_common.c); `SMX_CFLAGS` adds flags (e.g. `-O0 -g -fsanitize=address`).
 */
import { basename, dirname, join } from "node:path";
import { cAndHeaders, extraFlags, run, upToDate, werror } from "./util.ts";

/** pkg-config module → Debian package that provides it. */
const PKG_MODULES: Record<string, string> = {
  libavcodec: "libavcodec-dev",
  libavutil: "libavutil-dev",
  libswscale: "libswscale-dev",
  libturbojpeg: "libturbojpeg0-dev", // ffi/native/jpeg.c (TurboJPEG API of libjpeg-turbo)
};
/** Headers found without pkg-config → Debian package. */
const HEADERS: Record<string, string> = { "/usr/include/libyuv.h": "libyuv-dev" };

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Builds libsmx.so; true on success (or when it is up to date). */
export async function buildLinux(nativeDir: string, scripts: string[]): Promise<boolean> {
  const output = Deno.env.get("SMX_SHIM_OUT") ?? join(nativeDir, "build", "libsmx.so");
  const only = (Deno.env.get("SMX_NATIVE_SOURCES") ?? "").split(",").filter(Boolean);
  const sources = cAndHeaders(nativeDir).filter((p) => {
    const name = basename(p);
    return !only.length || name.endsWith(".h") || name === "smx_common.c" || only.includes(name);
  });
  if (upToDate(output, [...sources, ...scripts])) {
    console.log(`native shim up to date: ${output}`);
    return true;
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
    if (!exists(header)) missing.push(pkg);
  }
  if (missing.length) {
    console.error(
      `cannot build the native shim: missing ${missing.join(", ")}.\n` +
        `install with: apt-get install -y ${missing.join(" ")}   (or run: bash scripts/setup.sh)`,
    );
    return false;
  }

  const pc = await run("pkg-config", ["--cflags", "--libs", ...Object.keys(PKG_MODULES)]);
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
    ...werror(),
    "-fvisibility=hidden",
    ...extraFlags(),
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
    return false;
  }
  if (res.out.trim()) console.log(res.out.trim());
  Deno.renameSync(tmp, output); // atomic: a running process keeps its mapped copy
  console.log(`built ${output} in ${Math.round(performance.now() - t0)} ms`);
  return true;
}

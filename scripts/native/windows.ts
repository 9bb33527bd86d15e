/**
 * Windows target, cross-built on Linux with mingw-w64: ffi/native/build/smx.dll from the portable
 * C files of ffi/native/ plus every ffi/native/win/*.c (the Spout receiver, the Windows encoder).
 *
 * POSIX-only modules (ring.c, pattern.c, encoder*.c on libavcodec, convert.c, heap.c, jpeg.c)
 * stay Linux-only; their FFI sections are not in the Windows table (ffi/symbols.ts), so
 * Deno.dlopen never asks smx.dll for them. Only SMX_EXPORT (dllexport) functions are exported;
 * libgcc is linked statically, so the DLL needs nothing beyond Windows' own DLLs.
 * `SMX_DLL_OUT` writes elsewhere; `SMX_WIN_CFLAGS` adds flags; `SMX_WERROR=1` makes warnings errors.
 */
import { basename, dirname, join } from "node:path";
import { cAndHeaders, run, upToDate, werror } from "./util.ts";

export const MINGW_GCC = "x86_64-w64-mingw32-gcc";
export const MINGW_PACKAGE = "gcc-mingw-w64-x86-64";

/** Files of ffi/native/ that compile for Windows as they are (checked: no POSIX calls). */
export const PORTABLE_SOURCES = ["smx_common.c", "stamp.c", "proc_limits.c", "sps_rewrite.c"];

/** Import libraries: D3D11/DXGI (Spout receiver, video processor), Media Foundation (the
 * fallback encoder; ICodecAPI's IID from strmiids), COM and OLE automation (VARIANTs), the
 * registry (Spout's MaxSenders) and winmm (1 ms timer period). */
export const WINDOWS_LIBS = [
  "-ld3d11",
  "-ldxgi",
  "-ldxguid",
  "-luuid",
  "-lmfplat",
  "-lmfuuid",
  "-lmf",
  "-lole32",
  "-loleaut32",
  "-lstrmiids",
  "-ladvapi32",
  "-lwinmm",
];

/** NVENC's API headers (Debian libffmpeg-nvenc-dev; they declare, nvEncodeAPI64.dll is loaded at
 * run time): the one directory of the host's /usr/include the cross build may use. */
export const FFNVCODEC_DIR = "/usr/include/ffnvcodec";
export const FFNVCODEC_PACKAGE = "libffmpeg-nvenc-dev";

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The DLL's path (SMX_DLL_OUT or ffi/native/build/smx.dll). */
export function dllPath(nativeDir: string): string {
  return Deno.env.get("SMX_DLL_OUT") ?? join(nativeDir, "build", "smx.dll");
}

/** The C files smx.dll is made of. */
export function windowsSources(nativeDir: string): string[] {
  return [
    ...PORTABLE_SOURCES.map((f) => join(nativeDir, f)),
    ...cAndHeaders(join(nativeDir, "win")).filter((p) => p.endsWith(".c")),
  ];
}

/**
 * Builds smx.dll. "skipped" when the cross compiler is not installed (said on stderr), true on
 * success or when up to date, false when the compiler failed.
 */
export async function buildWindows(
  nativeDir: string,
  scripts: string[],
): Promise<boolean | "skipped"> {
  const output = dllPath(nativeDir);
  const sources = windowsSources(nativeDir);
  const inputs = [
    ...sources,
    ...cAndHeaders(nativeDir).filter((p) => p.endsWith(".h")),
    ...cAndHeaders(join(nativeDir, "win")).filter((p) => p.endsWith(".h")),
    ...scripts,
  ];
  if (upToDate(output, inputs)) {
    console.log(`windows shim up to date: ${output}`);
    return true;
  }
  if (!(await run(MINGW_GCC, ["--version"])).ok) {
    console.error(
      `skipping the Windows shim (smx.dll): ${MINGW_GCC} is not installed ` +
        `(apt-get install -y ${MINGW_PACKAGE}, or bash scripts/setup.sh test)`,
    );
    return "skipped";
  }
  const nvenc = isDir(FFNVCODEC_DIR);
  if (!nvenc && sources.some((f) => Deno.readTextFileSync(f).includes("nvEncodeAPI.h"))) {
    console.error(
      `cannot build the Windows shim: ${FFNVCODEC_DIR}/nvEncodeAPI.h is missing ` +
        `(apt-get install -y ${FFNVCODEC_PACKAGE}, or bash scripts/setup.sh test)`,
    );
    return false;
  }
  // Written under its final name in a side directory, then renamed: a PE file records its own
  // name in its export table, and programs linked against it look for that name.
  const tmpDir = join(dirname(output), ".win-tmp");
  Deno.mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, basename(output));
  const extra = (Deno.env.get("SMX_WIN_CFLAGS") ?? "").split(/\s+/).filter(Boolean);
  const args = [
    "-shared",
    "-O2",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    ...werror(),
    "-fvisibility=hidden",
    "-D_WIN32_WINNT=0x0A00", // Windows 10: GetSystemTimePreciseAsFileTime, DXGI 1.2+
    "-DWINVER=0x0A00",
    "-D__USE_MINGW_ANSI_STDIO=1", // C99 printf (%zu, %lld) whatever the CRT
    "-DCOBJMACROS", // the C vtable macros of the D3D11/DXGI/MF headers
    "-I",
    nativeDir,
    ...(nvenc ? ["-isystem", FFNVCODEC_DIR] : []),
    ...extra,
    "-o",
    tmp,
    ...sources,
    "-static-libgcc",
    // Same sources → same bytes wherever it is built (the release checks the shim by hash): no
    // time stamp, and no image base hashed from the output path (ASLR relocates it anyway).
    "-Wl,--no-insert-timestamp",
    "-Wl,--disable-auto-image-base",
    ...WINDOWS_LIBS,
  ];
  const t0 = performance.now();
  const res = await run(MINGW_GCC, args);
  if (!res.ok) {
    console.error(`${MINGW_GCC} failed:\n${res.out}`);
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing written */ }
    return false;
  }
  if (res.out.trim()) console.log(res.out.trim());
  Deno.renameSync(tmp, output);
  console.log(`built ${output} in ${Math.round(performance.now() - t0)} ms`);
  return true;
}

/**
 * Cross-builds the Spout test programs (ffi/native/tests/wine/: spout_harness.exe and the fake
 * Spout sender fake_sender.exe) into `outDir`, linked against `dll` (copied there beside them):
 * what tests/windows_shim_test.ts runs under Wine, and what to copy to a Windows machine
 * (`spout_harness.exe --d3d` there must pass with no skips). Warnings are errors.
 */
export async function buildSpoutHarness(
  nativeDir: string,
  dll: string,
  outDir: string,
): Promise<{ ok: boolean; out: string }> {
  Deno.mkdirSync(outDir, { recursive: true });
  const local = join(outDir, "smx.dll");
  if (dll !== local) Deno.copyFileSync(dll, local);
  const flags = [
    "-O1",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Werror",
    "-DCOBJMACROS",
    "-D__USE_MINGW_ANSI_STDIO=1",
    "-D_WIN32_WINNT=0x0A00",
    "-I",
    nativeDir,
  ];
  let out = "";
  for (const name of ["fake_sender", "spout_harness"]) {
    const res = await run(MINGW_GCC, [
      ...flags,
      "-o",
      join(outDir, `${name}.exe`),
      join(nativeDir, "tests", "wine", `${name}.c`),
      local, // linked against the DLL itself: its exports are what the harness calls
      "-ld3d11",
      "-ldxgi",
      "-ldxguid",
      "-luuid",
      "-static-libgcc",
    ]);
    out += res.out;
    if (!res.ok) return { ok: false, out: `${name}.c:\n${res.out}` };
  }
  return { ok: true, out };
}

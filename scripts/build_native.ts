/**
 * Builds the native shim: ffi/native/build/libsmx.so (Linux, gcc; scripts/native/linux.ts) and,
 * when the mingw-w64 cross compiler is installed, ffi/native/build/smx.dll (Windows;
 * scripts/native/windows.ts; skipped with a message otherwise).
 *
 * Each target rebuilds only when a source or header is newer than its output (`--force`: always).
 * `--target linux` or `--target windows` builds one. `SMX_WERROR=1` makes warnings errors.
 * `--spout-harness DIR` also cross-builds the Spout test programs with the DLL into DIR (to run
 * under Wine, or to copy to a Windows machine: ffi/native/win/README.md).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildLinux } from "./native/linux.ts";
import { buildSpoutHarness, buildWindows, dllPath } from "./native/windows.ts";

const here = dirname(fileURLToPath(import.meta.url));
const nativeDir = join(here, "..", "ffi", "native");
// A change to the build scripts rebuilds too.
const scripts = [
  fileURLToPath(import.meta.url),
  ...["linux.ts", "windows.ts", "util.ts"].map((f) => join(here, "native", f)),
];

const i = Deno.args.indexOf("--target");
const target = i >= 0 ? Deno.args[i + 1] : "all";
if (!["all", "linux", "windows"].includes(target)) {
  console.error(`--target must be linux or windows, got ${JSON.stringify(target)}`);
  Deno.exit(2);
}

let ok = true;
if (target !== "windows") ok = await buildLinux(nativeDir, scripts);
if (ok && target !== "linux") {
  const win = await buildWindows(nativeDir, scripts);
  // Asked for explicitly, a missing cross compiler is a failure; as part of "all" it is a skip.
  if (win === false || (win === "skipped" && target === "windows")) ok = false;
}
const h = Deno.args.indexOf("--spout-harness");
if (ok && h >= 0) {
  const res = await buildSpoutHarness(nativeDir, dllPath(nativeDir), Deno.args[h + 1]);
  if (!res.ok) console.error(res.out);
  else console.log(`built the Spout harness in ${Deno.args[h + 1]}`);
  ok = res.ok;
}
if (!ok) Deno.exit(1);

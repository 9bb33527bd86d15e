/**
 * Release form: one `deno compile`d binary with the UI bundle and the native shim inside.
 *
 *   deno task compile            → ./smx
 *
 * deno compile needs the `denort` runtime, which it downloads from the internet; where that is
 * impossible, set DENORT_BIN=/path/to/denort (same Deno version). At start-up the binary copies the
 * embedded shim to ~/.cache/smx/ (dlopen cannot map a library from inside the binary) — see
 * ffi/lib.ts.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

async function run(cmd: string, args: string[]): Promise<void> {
  const { success } = await new Deno.Command(cmd, {
    args,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (!success) Deno.exit(1);
}

await run(Deno.execPath(), ["task", "build:native"]);

// The UI is prebuilt into ui/dist: a compiled binary has no esbuild to build it at run time.
const { buildUi } = await import("../ui/build.ts");
const { buildPairPage } = await import("../ui/pair/build.ts");
// The main UI and the LAN pairing page (/pair) are built apart; both ship.
const files = new Map([
  ...await buildUi({ minify: true }),
  ...await buildPairPage({ minify: true }),
]);
const dist = join(root, "ui", "dist");
try {
  Deno.removeSync(dist, { recursive: true });
} catch { /* first build */ }
for (const [path, bytes] of files) {
  const target = join(dist, path);
  Deno.mkdirSync(dirname(target), { recursive: true });
  Deno.writeFileSync(target, bytes);
}

await run(Deno.execPath(), [
  "compile",
  "-A",
  "--include",
  "ffi/native/build/libsmx.so",
  "--include",
  "ui/dist",
  "--output",
  "smx",
  "main.ts",
]);
console.log(`built ${join(root, "smx")}`);

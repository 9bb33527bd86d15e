/**
 * Leak check of the native shim across session churn: ffi/native/tests/churn_test.c, compiled
 * with gcc against the shim's sources, runs under valgrind's memcheck. Any definitely or
 * indirectly lost block, any invalid read or write, a descriptor left open or a ring left in
 * /dev/shm fails the test, with valgrind's report. A missing tool fails it too (never a skip):
 * `bash scripts/setup.sh test` installs valgrind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const NATIVE = fileURLToPath(new URL("../ffi/native/", import.meta.url));
const HARNESS = join(NATIVE, "tests", "churn_test.c");
/** Under valgrind x264 runs ~30x slower: 4 iterations at 320x180 take ~3 s on 2 cores. */
const ITERATIONS = 4;

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} is not installed, so the shim's leak check cannot run. ` +
          `Install it: bash scripts/setup.sh test   (or apt-get install -y ${cmd})`,
      );
    }
    throw e;
  }
}

/** The harness plus every top-level shim source, linked like libsmx.so (scripts/build_native.ts). */
async function buildHarness(dir: string): Promise<string> {
  const sources = [...Deno.readDirSync(NATIVE)]
    .filter((e) => e.isFile && e.name.endsWith(".c"))
    .map((e) => join(NATIVE, e.name))
    .sort();
  const pc = await run("pkg-config", [
    "--cflags",
    "--libs",
    "libavcodec",
    "libavutil",
    "libswscale",
    "libturbojpeg",
  ]);
  assert.equal(pc.code, 0, `pkg-config: ${pc.out}`);
  const exe = join(dir, "churn_test");
  const gcc = await run("gcc", [
    "-O1",
    "-g",
    "-std=gnu11",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-o",
    exe,
    HARNESS,
    ...sources,
    ...pc.out.trim().split(/\s+/),
    "-lyuv",
    "-lpthread",
    "-ldl",
    "-lm",
  ]);
  assert.equal(gcc.code, 0, `gcc failed:\n${gcc.out}`);
  return exe;
}

Deno.test("the shim frees everything across encoder, ring, pattern and converter churn (valgrind)", async () => {
  // Checked first so that a missing valgrind is reported as such, not after a build.
  const version = await run("valgrind", ["--version"]);
  assert.equal(version.code, 0, version.out);
  const dir = await Deno.makeTempDir({ prefix: "smx-leak-" });
  try {
    const exe = await buildHarness(dir);
    const r = await run("valgrind", [
      "--leak-check=full",
      "--show-leak-kinds=definite,indirect",
      "--errors-for-leak-kinds=definite,indirect",
      "--error-exitcode=3",
      "--num-callers=30",
      exe,
      String(ITERATIONS),
    ]);
    // 0 = clean; 3 = valgrind found a leak or a memory error; 1 = a shim call misbehaved
    assert.equal(r.code, 0, `churn_test under valgrind exited with ${r.code}:\n${r.out}`);
    assert.match(r.out, new RegExp(`churn_test: ${ITERATIONS} iterations at 320x180 passed`));
    assert.match(r.out, /definitely lost: 0 bytes|no leaks are possible/, r.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The CLI with two engines of the same name: `smx engines` prints lines that tell them apart, and
 * `--engine-select NAME` refuses to guess, naming both by pid and URL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startDemoEngine } from "./support/demo_engine.ts";
import { ROOT } from "./support/processes.ts";

async function smx(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    signal: AbortSignal.timeout(20000), // a start that does not refuse would serve until killed
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli: two engines of one name are told apart by `engines` and refused by --engine-select", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-cli-" });
  const name = `twin-${crypto.randomUUID().slice(0, 8)}`;
  const [a, b] = await Promise.all([
    startDemoEngine({ name, portDir: dir }),
    startDemoEngine({ name, portDir: dir }),
  ]);
  try {
    const env = { SMX_ENGINE_DIR: dir };
    const list = await smx(["engines"], env);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.split("\n").filter((l) => l.startsWith(`${name}\t`));
    assert.equal(lines.length, 2, list.stdout);
    for (const e of [a, b]) {
      assert.ok(
        lines.some((l) => l === `${name}\tpid ${e.pid}\t${e.url}\tvia port-file\tusable`),
        `a line for pid ${e.pid}:\n${list.stdout}`,
      );
    }

    const start = await smx(["--engine-select", name, "--port", "0", "--no-demo"], env);
    assert.equal(start.code, 2, `exit code (stdout: ${start.stdout}, stderr: ${start.stderr})`);
    assert.match(start.stderr, /matches 2 engines/);
    for (const e of [a, b]) {
      assert.ok(
        start.stderr.includes(`pid ${e.pid}`) && start.stderr.includes(e.url),
        start.stderr,
      );
    }
  } finally {
    await Promise.all([a.kill(), b.kill()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";

// In a child process: the handlers are process-wide, and the default they replace is exiting.
const script = `
import { keepRunningOnUncaught } from ${JSON.stringify(import.meta.resolve("./uncaught.ts"))};
const up = Deno.args[0] === "up";
keepRunningOnUncaught({
  log: (m) => console.log("LOG " + m.split("\\n")[0]),
  started: () => up,
  fatal: (m) => { console.log("FATAL " + m.split("\\n")[0]); Deno.exit(3); },
});
// Starting: the rejection must be the first failure (a timer could otherwise win the race).
setTimeout(() => { throw new Error("boom in a timer"); }, up ? 0 : 100);
Promise.reject(new Error("nobody awaits this"));
setTimeout(() => { console.log("still running"); Deno.exit(0); }, 200);
`;

async function run(arg: string): Promise<{ code: number; out: string }> {
  const file = Deno.makeTempFileSync({ suffix: ".ts" });
  try {
    Deno.writeTextFileSync(file, script);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file, arg],
      env: { NO_COLOR: "1" },
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } finally {
    Deno.removeSync(file);
  }
}

Deno.test("once up, uncaught errors and rejections are logged and the process keeps running", async () => {
  const { code, out } = await run("up");
  assert.equal(code, 0, out);
  assert.match(out, /LOG unhandled rejection \(smx keeps running\): Error: nobody awaits this/);
  assert.match(out, /LOG uncaught exception \(smx keeps running\): Error: boom in a timer/);
  assert.match(out, /still running/);
});

Deno.test("during start-up an unhandled rejection is fatal, with its message", async () => {
  const { code, out } = await run("starting");
  assert.equal(code, 3, out);
  assert.match(out, /FATAL unhandled rejection during start-up: Error: nobody awaits this/);
  assert.doesNotMatch(out, /still running/);
});

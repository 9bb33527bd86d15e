import assert from "node:assert/strict";
import { rateLimited } from "./log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string) {
  for (const end = Date.now() + 5000; !cond();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

Deno.test("rateLimited: a flood writes the first lines, then one summary per interval", async () => {
  const lines: string[] = [];
  const log = rateLimited((m) => lines.push(m), {
    burst: 3,
    intervalMs: 60,
    summary: (key, n) => `${n} more ${key}`,
  });
  for (let i = 0; i < 1000; i++) log("busy", `refused #${i}`);
  log("421", "refused bad host");
  assert.deepEqual(lines, ["refused #0", "refused #1", "refused #2", "refused bad host"]);

  await until(() => lines.length > 4, "the first summary"); // one line for the whole flood
  assert.deepEqual(lines.slice(4), ["997 more busy"]);

  for (let i = 0; i < 50; i++) log("busy", "still refused"); // the flood goes on: summed at once
  assert.equal(lines.length, 5);
  await until(() => lines.length > 5, "the second summary");
  assert.deepEqual(lines.slice(5), ["50 more busy"]);

  await sleep(200); // quiet for a whole interval: the key starts over
  log("busy", "refused again");
  assert.equal(lines.at(-1), "refused again");
  log.flush();
});

Deno.test("rateLimited: flush writes what is pending and stops the timer", () => {
  const lines: string[] = [];
  const log = rateLimited((m) => lines.push(m), { burst: 1, intervalMs: 60_000 });
  log("error", "first");
  log("error", "second");
  log("error", "third");
  log.flush(); // a pending interval timer would fail this test (Deno's op sanitizer)
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^2 more "error" lines left out in the last \d+ s$/);
});

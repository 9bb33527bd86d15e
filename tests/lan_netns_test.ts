/**
 * The test LAN cleans up after itself: a namespace is gone after a test that threw, and one left
 * by a run that crashed (its process gone) is removed by the next run, while a live process's
 * namespace is left alone.
 */
import assert from "node:assert/strict";
import { removeStaleNamespaces, withLan } from "./support/netns.ts";

async function namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]).filter(
    Boolean,
  );
}

async function ip(...args: string[]) {
  const r = await new Deno.Command("ip", { args, stderr: "piped" }).output();
  assert.equal(r.code, 0, `ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

Deno.test("a namespace is removed even when the test inside it throws", async () => {
  let name = "";
  await assert.rejects(
    withLan(async (lan) => {
      name = lan.name;
      assert.ok((await namespaces()).includes(name));
      const r = await lan.run(["ip", "-4", "-o", "addr", "show"]);
      assert.ok(r.stdout.includes(lan.peerAddress), "the peer address is inside");
      throw new Error("the test failed");
    }),
    /the test failed/,
  );
  assert.ok(name && !(await namespaces()).includes(name), `${name} left behind`);
});

Deno.test("namespaces of crashed runs are removed, a live process's are not", async () => {
  const gone = new Deno.Command("true").spawn();
  await gone.status; // a pid that no longer exists
  const stale = `smx-${gone.pid}-97`;
  const live = `smx-${Deno.pid}-98`;
  await ip("netns", "add", stale);
  await ip("netns", "add", live);
  try {
    const removed = await removeStaleNamespaces();
    assert.ok(removed.includes(stale), `removed: ${removed}`);
    const left = await namespaces();
    assert.ok(!left.includes(stale));
    assert.ok(left.includes(live), "a live process's namespace was removed");
  } finally {
    await new Deno.Command("ip", { args: ["netns", "del", stale], stderr: "null" }).output();
    await ip("netns", "del", live);
  }
});

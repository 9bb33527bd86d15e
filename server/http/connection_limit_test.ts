import assert from "node:assert/strict";
import { ConnectionLimit, defaultMaxConnections, FD_RESERVE } from "./connection_limit.ts";
import { openFilesSoftLimit } from "./open_files_limit.ts";

Deno.test("defaultMaxConnections keeps FD_RESERVE descriptors, never fewer than 16 clients", () => {
  assert.equal(defaultMaxConnections(1024), 1024 - FD_RESERVE);
  assert.equal(defaultMaxConnections(256), 256 - FD_RESERVE);
  assert.equal(defaultMaxConnections(100), 16);
  assert.equal(defaultMaxConnections(undefined), Infinity);
  assert.equal(defaultMaxConnections(Infinity), Infinity);
});

Deno.test("ConnectionLimit admits up to max, refuses past it, frees on release", () => {
  const limit = new ConnectionLimit(3);
  const a = limit.admit()!, b = limit.admit()!, c = limit.admit()!;
  assert.ok(a && b && c);
  assert.equal(limit.admit(), null);
  b.upgraded(); // a WebSocket keeps its place after its request is done
  assert.deepEqual(limit.stats(), {
    live: 3,
    requests: 2,
    webSockets: 1,
    max: 3,
    peak: 3,
    refused: 1,
  });
  a.release();
  a.release(); // twice is once
  b.upgraded(); // late upgrade of an upgraded slot changes nothing
  assert.equal(limit.live, 2);
  const d = limit.admit()!;
  assert.ok(d);
  b.release();
  c.release();
  d.release();
  b.upgraded(); // released stays released
  assert.equal(limit.live, 0);
  assert.deepEqual(new ConnectionLimit(Infinity).stats().max, null);
  assert.throws(() => new ConnectionLimit(0), RangeError);
});

Deno.test("openFilesSoftLimit reads this process's soft limit", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -Sn"] }).output();
  const expected = new TextDecoder().decode(out.stdout).trim();
  assert.equal(String(openFilesSoftLimit() ?? "unlimited"), expected);
});

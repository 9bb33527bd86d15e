import assert from "node:assert/strict";
import { isLoopbackAddress, LoopbackGuard, splitHost } from "./guard.ts";

const guard = new LoopbackGuard(() => 8080);
const req = (headers: Record<string, string>) => new Request("http://x/", { headers });

Deno.test("loopback addresses", () => {
  for (const a of ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"]) {
    assert.ok(isLoopbackAddress(a), a);
  }
  for (const a of ["10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1", ""]) {
    assert.ok(!isLoopbackAddress(a), a);
  }
});

Deno.test("host parsing", () => {
  assert.deepEqual(splitHost("LocalHost:8080"), ["localhost", "8080"]);
  assert.deepEqual(splitHost("[::1]:8080"), ["[::1]", "8080"]);
  assert.deepEqual(splitHost("bad host"), ["", ""]);
});

Deno.test("accepts our own host and origin", () => {
  assert.ok(guard.check(req({ host: "localhost:8080" }), "127.0.0.1").ok);
  assert.ok(
    guard.check(req({ host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080" }), "::1").ok,
  );
  assert.ok(guard.check(req({ host: "[::1]:8080", origin: "http://localhost:8080" }), "::1").ok);
});

Deno.test("refuses a remote peer, DNS rebinding and cross-site origins", () => {
  assert.equal(guard.check(req({ host: "localhost:8080" }), "10.0.0.2").status, 403);
  assert.equal(guard.check(req({ host: "evil.example:8080" }), "127.0.0.1").status, 421);
  assert.equal(guard.check(req({ host: "localhost:9999" }), "127.0.0.1").status, 421);
  assert.equal(guard.check(req({}), "127.0.0.1").status, 421);
  const xsite = guard.check(req({ host: "localhost:8080", origin: "http://evil.example" }), "::1");
  assert.equal(xsite.status, 403);
  assert.match(xsite.reason!, /evil\.example/);
  assert.equal(
    guard.check(req({ host: "localhost:8080", origin: "null" }), "127.0.0.1").status,
    403,
  );
});

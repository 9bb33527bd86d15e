import assert from "node:assert/strict";
import { AttemptLimit } from "./attempts.ts";

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => t += ms };
}

Deno.test("a peer gets 5 wrong attempts, then one per 12 s", () => {
  const c = clock();
  const l = new AttemptLimit({ now: c.now });
  for (let i = 0; i < 5; i++) {
    assert.equal(l.waitMs("10.0.0.2"), 0, `attempt ${i + 1} allowed`);
    l.failed("10.0.0.2");
  }
  const wait = l.waitMs("10.0.0.2");
  assert.ok(wait > 11_000 && wait <= 12_000, `waits ${wait} ms`);
  assert.equal(l.waitMs("10.0.0.3"), 0, "another peer is not held back by this one");
  c.advance(wait);
  assert.equal(l.waitMs("10.0.0.2"), 0, "one more after the refill");
});

Deno.test("all peers together get 20 wrong attempts, then one per 3 s", () => {
  const c = clock();
  const l = new AttemptLimit({ now: c.now });
  for (let i = 0; i < 20; i++) l.failed(`10.0.${i}.1`); // a new address for every guess
  const wait = l.waitMs("10.9.9.9");
  assert.ok(wait > 2000 && wait <= 3000, `a fresh address also waits (${wait} ms)`);
  c.advance(3000);
  assert.equal(l.waitMs("10.9.9.9"), 0);
});

Deno.test("a sustained guesser gets no more than the global rate", () => {
  const c = clock();
  const l = new AttemptLimit({ now: c.now });
  let allowed = 0;
  for (let ms = 0; ms < 600_000; ms += 100) { // ten minutes, ten guesses a second, many addresses
    const peer = `10.1.${ms % 250}.${(ms / 100) % 250}`;
    if (l.waitMs(peer) === 0) {
      allowed++;
      l.failed(peer);
    }
    c.advance(100);
  }
  assert.ok(allowed <= 20 + 200 + 1, `${allowed} guesses in 10 min (burst 20 + 1 per 3 s)`);
});

Deno.test("the peer table stays bounded", () => {
  const c = clock();
  const l = new AttemptLimit({ now: c.now, maxPeers: 10, global: { burst: 1e9, refillMs: 1 } });
  for (let i = 0; i < 1000; i++) l.failed(`10.2.${i >> 8}.${i & 255}`);
  // The newest peer is still remembered and limited after its burst.
  for (let i = 0; i < 5; i++) l.failed("10.3.0.1");
  assert.ok(l.waitMs("10.3.0.1") > 0);
});

import assert from "node:assert/strict";
import { InFlight } from "./in_flight.ts";

Deno.test("an ack acknowledges its frame and everything sent before it", () => {
  const f = new InFlight();
  f.sent(1, 10, 1000, 0);
  f.sent(2, 500, 2000, 5);
  f.sent(1, 11, 3000, 10);
  assert.equal(f.oldestAgeMs(20), 20);
  assert.equal(f.ack(2, 500, 30), 25); // send → ack of that frame
  assert.equal(f.frames, 1);
  assert.equal(f.bytes, 3000);
  assert.equal(f.oldestAgeMs(40), 30);
  assert.equal(f.deliveryRate(40), 3000); // bytes acked in the last second
  assert.equal(f.ack(1, 11, 41), 31);
  assert.equal(f.oldestAgeMs(50), 0);
});

Deno.test("unknown, stale and repeated acks change nothing", () => {
  const f = new InFlight();
  f.sent(1, 10, 100, 0);
  assert.equal(f.ack(1, 9, 1), null);
  assert.equal(f.ack(7, 10, 1), null);
  assert.equal(f.frames, 1);
  f.ack(1, 10, 2);
  assert.equal(f.ack(1, 10, 3), null);
  assert.equal(f.frames, 0);
});

Deno.test("the delivery rate forgets acks older than a second; forget() drops a stream", () => {
  const f = new InFlight();
  for (let i = 0; i < 1000; i++) f.sent(1, i, 10, i);
  f.ack(1, 499, 500);
  assert.equal(f.deliveryRate(1000), 5000);
  assert.equal(f.deliveryRate(1501), 0);
  f.sent(2, 1, 10, 1000);
  f.forget(1);
  assert.equal(f.frames, 1);
  assert.equal(f.bytes, 10);
});

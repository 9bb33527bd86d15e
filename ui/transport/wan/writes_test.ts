import assert from "node:assert/strict";
import type { ParamValue } from "../../../protocol/params.ts";
import { ParamWriteError } from "../../../protocol/params_client.ts";
import { CoalescedWrites, PendingAcks } from "./writes.ts";

Deno.test("WAN writes: one in flight per path, the newest waiting value next", async () => {
  const sent: [string, ParamValue][] = [];
  const settle: (() => void)[] = [];
  const w = new CoalescedWrites((path, value) => {
    sent.push([path, value]);
    return new Promise<void>((r) => settle.push(r));
  });
  const p1 = w.write("a", 1);
  const p2 = w.write("a", 2);
  const p3 = w.write("a", 3);
  const q = w.write("b", 9);
  assert.deepEqual(sent, [["a", 1], ["b", 9]]);
  settle.shift()!();
  await p1;
  assert.deepEqual(sent, [["a", 1], ["b", 9], ["a", 3]]); // 2 was superseded
  settle.shift()!();
  await q;
  settle.shift()!();
  await Promise.all([p2, p3]);
  assert.equal(w.inFlight, 0);
});

Deno.test("WAN writes: acks by id, errors, timeout, link loss", async () => {
  let now = 0;
  const acks = new PendingAcks(5000, () => now);
  const a = acks.open("x");
  const b = acks.open("y");
  const c = acks.open("z");
  const d = acks.open("w");
  assert.notEqual(a.id, b.id);
  acks.ack(a.id);
  await a.done;
  acks.error(b.id, "out_of_range", "out of range");
  await assert.rejects(b.done, (e: ParamWriteError) => e.code === "out_of_range" && e.path === "y");
  now = 5000;
  acks.expire();
  await assert.rejects(c.done, (e: ParamWriteError) => e.code === "timeout");
  await assert.rejects(d.done, (e: ParamWriteError) => e.code === "timeout");
  const e = acks.open("v");
  acks.failAll("disconnected");
  await assert.rejects(e.done, (x: ParamWriteError) => x.code === "engine_offline");
  assert.equal(acks.size, 0);
});

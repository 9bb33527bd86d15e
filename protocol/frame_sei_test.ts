import assert from "node:assert/strict";
import { annexBUnits, readFrameSei, withFrameSei } from "./frame_sei.ts";

const sps = [0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0xab];
const pps = [0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80];
const idr = [0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01, 0xff];

Deno.test("the timing SEI round-trips and goes before the first slice", () => {
  const au = new Uint8Array([...sps, ...pps, ...idr]);
  // Values whose bytes contain 00 00 0x: emulation prevention must be applied and removed.
  const t = { frame: 65536, captureUs: 0, sentUs: 1.7e15, encodeMs: 2.5 };
  const out = withFrameSei(au, t);
  assert.deepEqual(readFrameSei(out), t);
  const types = annexBUnits(out).map((u) => out[u.start] & 0x1f);
  assert.deepEqual(types, [7, 8, 6, 5]);
  // The original units are intact around it.
  assert.deepEqual([...out.subarray(0, sps.length + pps.length)], [...sps, ...pps]);
  assert.deepEqual([...out.subarray(out.length - idr.length + 3)], idr.slice(3));
});

Deno.test("access units without smx's SEI or without a slice", () => {
  const p = new Uint8Array([0, 0, 0, 1, 0x41, 0x9a, 0x02]);
  assert.equal(readFrameSei(p), null);
  const t = { frame: 7, captureUs: 1e15, sentUs: 1e15 + 5, encodeMs: 1 };
  assert.deepEqual(readFrameSei(withFrameSei(p, t)), t);
  const noSlice = new Uint8Array(sps);
  assert.equal(withFrameSei(noSlice, t), noSlice);
  // A foreign SEI (another UUID) is not ours.
  const foreign = withFrameSei(p, t);
  foreign[foreign.indexOf(0x73)] ^= 0xff;
  assert.equal(readFrameSei(foreign), null);
});

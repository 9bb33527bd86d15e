import assert from "node:assert/strict";
import { native, nowUs } from "../ffi/lib.ts";

Deno.test("shim loads and reports its version and clocks", () => {
  const n = native();
  assert.equal(Deno.UnsafePointerView.getCString(n.smx_version()!), "smx-shim 1");
  const us = Number(nowUs());
  assert.ok(Math.abs(us / 1000 - Date.now()) < 50, "smx_now_us is wall-clock µs");
});

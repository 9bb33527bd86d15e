import assert from "node:assert/strict";
import { signHs256, verifyHs256 } from "./jwt.ts";

Deno.test("HS256 tokens verify with their secret only, and expire", async () => {
  const exp = Math.floor(Date.now() / 1000) + 60;
  const t = await signHs256({ sub: "alice", exp, channel: "smx_ctl:a" }, "s3cret");
  assert.deepEqual(await verifyHs256(t, "s3cret"), { sub: "alice", exp, channel: "smx_ctl:a" });
  assert.equal(await verifyHs256(t, "other"), null);
  assert.equal(await verifyHs256(t, "s3cret", exp + 1), null);
  const [h, , s] = t.split(".");
  const forged = `${h}.${btoa(JSON.stringify({ sub: "mallory", exp }))}.${s}`;
  assert.equal(await verifyHs256(forged, "s3cret"), null);
  await assert.rejects(signHs256({}, ""), /secret/);
});

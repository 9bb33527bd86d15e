import assert from "node:assert/strict";
import { tagsFilter } from "./params_centrifuge.ts";

Deno.test("WAN params: tags filters leave out other pages' publications and answers", () => {
  assert.deepEqual(tagsFilter("ctl"), { key: "smx", cmp: "ex" });
  assert.deepEqual(tagsFilter("params", "u1"), {
    op: "or",
    nodes: [{ key: "to", cmp: "nex" }, { key: "user", cmp: "eq", val: "u1" }],
  });
  assert.equal(tagsFilter("params"), null); // no user known: everything (the mirror sorts by `to`)
  assert.equal(tagsFilter("state", "u1"), null);
});

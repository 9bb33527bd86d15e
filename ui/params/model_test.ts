import assert from "node:assert/strict";
import type { ChannelMeta } from "../transport/types.ts";
import { decimalsOf, formatNumber, hasSlider, pagesOf } from "./model.ts";

const ch = (
  path: string,
  page: string,
  group: string,
  extra: Partial<ChannelMeta> = {},
): ChannelMeta => ({
  path,
  type: "float",
  label: path,
  group,
  page,
  default: 0,
  ...extra,
});

Deno.test("pagesOf: spec order, hidden left out", () => {
  const pages = pagesOf([
    ch("a", "Scene", "Colour"),
    ch("b", "Camera", "Lens"),
    ch("c", "Scene", "Geometry"),
    ch("d", "Scene", "Colour"),
    ch("p", "Pointer", "Pointer", { hidden: true }),
  ]);
  assert.deepEqual(pages.map((p) => p.name), ["Scene", "Camera"]);
  assert.deepEqual(pages[0].groups.map((g) => [g.name, g.channels.map((c) => c.path)]), [
    ["Colour", ["a", "d"]],
    ["Geometry", ["c"]],
  ]);
});

Deno.test("number display follows step, type and range", () => {
  assert.equal(decimalsOf(ch("a", "", "", { step: 0.01 })), 2);
  assert.equal(decimalsOf(ch("a", "", "", { step: 1e-7 })), 7);
  assert.equal(decimalsOf(ch("a", "", "", { type: "int" })), 0);
  assert.equal(decimalsOf(ch("a", "", "", { min: 0, max: 1 })), 3);
  assert.equal(formatNumber(0.5, ch("a", "", "", { step: 0.1 })), "0.5");
  assert.equal(formatNumber(undefined, ch("a", "", "")), "–");
  assert.equal(hasSlider(ch("a", "", "", { min: 0, max: 1 })), true);
  assert.equal(hasSlider(ch("a", "", "", { min: 0 })), false);
  assert.equal(hasSlider(ch("a", "", "", { type: "vec2", min: 0, max: 1 })), false);
});

import assert from "node:assert/strict";
import { publisherIdentity } from "../../../protocol/wan.ts";
import { chooseIdentity, pageDemand, sameDemand, wantedRendition, wireDemand } from "./demand.ts";

const main = { id: "main", label: "Main", width: 1920, height: 1080, fps: 60 };

Deno.test("WAN demand: whole numbers in bounds, the rendition smx will publish", () => {
  const d = wireDemand("main", { width: 1000.6, height: 0.2, fps: 999 });
  assert.deepEqual(d, { source: "main", width: 1001, height: 1, fps: 240 });
  const t = wireDemand("main", { width: 1200, height: 700, fps: 60, codec: "h264" });
  assert.deepEqual(wantedRendition(t, main), {
    source: "main",
    width: 1280,
    height: 720,
    fps: 60,
  });
  assert.equal(wantedRendition(t, undefined), null);
  assert.equal(wantedRendition(t, { ...main, width: 0 }), null);
});

Deno.test("WAN demand: the page's whole demand, deduplicated and capped; empty when nothing", () => {
  const a = { source: "main", width: 640, height: 360, fps: 60 };
  const b = { source: "aux", width: 320, height: 180, fps: 30 };
  assert.deepEqual(pageDemand([a, null, b, { ...a }]), [a, b]);
  assert.deepEqual(pageDemand([null, null]), []);
  const many = Array.from({ length: 40 }, (_, i) => ({ ...a, width: 100 + i }));
  assert.equal(pageDemand(many).length, 16);
  assert.ok(sameDemand([a, b], [b, a]));
  assert.ok(!sameDemand([a], [a, b]));
  assert.ok(!sameDemand([a], [{ ...a, fps: 30 }]));
});

Deno.test("WAN demand: the wanted participant, else the closest rendition of the source", () => {
  const want = { source: "main", width: 1280, height: 720, fps: 60 };
  const exact = publisherIdentity(want);
  const small = publisherIdentity({ source: "main", width: 640, height: 360, fps: 60 });
  const big = publisherIdentity({ source: "main", width: 1920, height: 1080, fps: 60 });
  const other = publisherIdentity({ source: "aux", width: 1280, height: 720, fps: 60 });
  assert.equal(chooseIdentity(want, [small, exact, big, other]), exact);
  // 1920x1080 is 2.25x the pixels, 640x360 a quarter: the bigger is closer.
  assert.equal(chooseIdentity(want, [small, big, other, "viewer-1"]), big);
  assert.equal(chooseIdentity(want, [small]), small);
  assert.equal(chooseIdentity(want, [other, "smx/garbage"]), null);
});

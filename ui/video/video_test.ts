import assert from "node:assert/strict";
import { frameStep } from "./decoder.ts";
import { renditionKey } from "./demand.ts";
import { bestColumns } from "./grid.ts";
import { containRect, toPicture } from "./letterbox.ts";
import { wheelNotches } from "./pointer.ts";
import { quantile, Ring } from "./ring.ts";
import { capabilities, chooseVideoPath, fallbackAfter, forcedPath, PATH_CODEC } from "./paths.ts";

Deno.test("containRect: pillarbox and letterbox, centred", () => {
  const p = containRect(1000, 500, 1280, 720);
  assert.equal(p.h, 500);
  assert.ok(Math.abs(p.w - 888.889) < 1e-3 && Math.abs(p.x - 55.556) < 1e-3 && p.y === 0);
  const r = containRect(400, 600, 1280, 720);
  assert.equal(r.w, 400);
  assert.equal(r.h, 225);
  assert.equal(r.x, 0);
  assert.equal(r.y, 187.5);
  assert.deepEqual(containRect(0, 600, 1280, 720), { x: 0, y: 0, w: 0, h: 0 });
});

Deno.test("toPicture: letterbox excluded, y down, clamped", () => {
  const r = containRect(400, 600, 1280, 720); // picture at y 187.5..412.5
  assert.deepEqual(toPicture(0, 187.5, r), { x: 0, y: 0, inside: true });
  assert.deepEqual(toPicture(400, 412.5, r), { x: 1, y: 1, inside: true });
  assert.deepEqual(toPicture(100, 300, r), { x: 0.25, y: 0.5, inside: true });
  const bar = toPicture(200, 50, r);
  assert.equal(bar.inside, false);
  assert.equal(bar.y, 0);
  assert.equal(bar.x, 0.5);
});

Deno.test("frameStep: next within the stride, skips are not losses, backwards is", () => {
  assert.equal(frameStep(10, 11, 1), "next");
  assert.equal(frameStep(10, 12, 1), "skip");
  assert.equal(frameStep(10, 12, 2), "next");
  assert.equal(frameStep(10, 13, 2), "next");
  assert.equal(frameStep(10, 14, 2), "skip");
  assert.equal(frameStep(10, 10, 1), "back");
  assert.equal(frameStep(10, 5, 1), "back");
  assert.equal(frameStep(0xffffffff, 0, 1), "next"); // u32 wrap
});

Deno.test("renditionKey: close sizes share a class; hidden is none", () => {
  const src = { id: "a", label: "a", width: 1280, height: 720, fps: 60 };
  assert.equal(renditionKey(null, src), "none");
  assert.equal(
    renditionKey({ width: 1000, height: 560, fps: 60 }, src),
    renditionKey({ width: 1100, height: 620, fps: 60 }, src),
  );
  assert.notEqual(
    renditionKey({ width: 600, height: 340, fps: 60 }, src),
    renditionKey({ width: 1100, height: 620, fps: 60 }, src),
  );
});

Deno.test("bestColumns: two 16:9 pictures stack in a wide-ish area, sit side by side in a very wide one", () => {
  assert.equal(bestColumns(1, 1000, 800), 1);
  assert.equal(bestColumns(2, 1065, 770), 1);
  assert.equal(bestColumns(2, 3000, 600), 2);
  assert.equal(bestColumns(4, 1600, 900), 2);
});

Deno.test("wheelNotches: up counts up, modes normalised", () => {
  assert.equal(wheelNotches({ deltaY: -100, deltaMode: 0 }), 1);
  assert.equal(wheelNotches({ deltaY: 3, deltaMode: 1 }), -1);
  assert.equal(wheelNotches({ deltaY: 1, deltaMode: 2 }), -1);
});

Deno.test("Ring keeps the newest, oldest first; quantile by nearest rank", () => {
  const r = new Ring(3);
  for (const v of [1, 2, 3, 4]) r.push(v);
  assert.deepEqual(r.toArray(), [2, 3, 4]);
  assert.equal(r.recent(0), 4);
  assert.equal(quantile([5, 1, 3], 0.5), 3);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("video paths: WebCodecs first, WASM where it is hidden, JPEG last; ?video= forces a runnable one", () => {
  const all = { videoDecoder: true, wasmWorker: true, imageBitmap: true };
  const lan = { videoDecoder: false, wasmWorker: true, imageBitmap: true };
  const bare = { videoDecoder: false, wasmWorker: false, imageBitmap: true };
  assert.equal(chooseVideoPath(all), "webcodecs");
  assert.equal(chooseVideoPath(lan), "wasm");
  assert.equal(chooseVideoPath(bare), "jpeg");
  assert.equal(chooseVideoPath(all, "jpeg"), "jpeg");
  assert.equal(chooseVideoPath(lan, "webcodecs"), "wasm"); // cannot run here: ignored
  assert.equal(chooseVideoPath(lan, "nonsense"), "wasm");
  assert.equal(fallbackAfter("wasm", lan), "jpeg");
  assert.equal(fallbackAfter("jpeg", lan), null);
  assert.equal(PATH_CODEC.wasm, "h264-baseline");
  assert.equal(forcedPath("?video=jpeg&x=1"), "jpeg");
  assert.equal(forcedPath(""), null);
  assert.equal(capabilities({} as typeof globalThis).videoDecoder, false);
});

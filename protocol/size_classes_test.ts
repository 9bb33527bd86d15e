import assert from "node:assert/strict";
import { demandError, pixelRate, renditionFor, renditionLadder } from "./size_classes.ts";

const SRC = { width: 1280, height: 720, fps: 60 };

Deno.test("close demands share one rendition", () => {
  const a = renditionFor({ width: 1000, height: 560, fps: 60 }, SRC);
  const b = renditionFor({ width: 1100, height: 620, fps: 50 }, SRC);
  assert.deepEqual(a, b);
  assert.deepEqual(a, { width: 1280, height: 720, fps: 60 });
});

Deno.test("never wider than the source, keeps aspect, even sizes", () => {
  assert.deepEqual(renditionFor({ width: 3000, height: 2000, fps: 60 }, SRC), SRC);
  const small = renditionFor({ width: 300, height: 300, fps: 30 }, SRC);
  assert.deepEqual(small, { width: 320, height: 180, fps: 30 });
  const odd = renditionFor({ width: 500, height: 500, fps: 30 }, {
    width: 333,
    height: 333,
    fps: 30,
  });
  assert.deepEqual(odd, { width: 332, height: 332, fps: 30 });
});

Deno.test("letterboxed tile asks for the picture's drawn size", () => {
  // A tall tile 400x1000 shows a 16:9 picture 400 wide.
  assert.equal(renditionFor({ width: 400, height: 1000, fps: 30 }, SRC).width, 480);
  // A wide tile 2000x200 shows it 356 wide.
  assert.equal(renditionFor({ width: 2000, height: 200, fps: 30 }, SRC).width, 480);
});

Deno.test("fps is rounded up to a class and capped by the source", () => {
  assert.equal(renditionFor({ width: 640, height: 360, fps: 20 }, SRC).fps, 30);
  assert.equal(renditionFor({ width: 640, height: 360, fps: 60 }, { ...SRC, fps: 30 }).fps, 30);
});

Deno.test("bad demands are described", () => {
  assert.match(demandError({ width: 0, height: 10, fps: 30 })!, /width must be/);
  assert.match(demandError({ width: 10, height: "x", fps: 30 })!, /height must be/);
  assert.match(demandError({ width: 10, height: 10, fps: NaN })!, /fps must be/);
  assert.equal(demandError({ width: 10, height: 10, fps: 30 }), null);
});

Deno.test("an odd source is cropped to even, never stretched", () => {
  const src = { width: 1917, height: 1079, fps: 60 };
  assert.deepEqual(renditionFor({ width: 4000, height: 4000, fps: 60 }, src), {
    width: 1916,
    height: 1078,
    fps: 60,
  });
  const r = renditionFor({ width: 640, height: 360, fps: 30 }, src);
  assert.ok(r.width <= 640 && r.height <= 1079 && r.width % 2 === 0 && r.height % 2 === 0);
});

Deno.test("the ladder runs from the demand's rendition down to 320 wide at 15 fps", () => {
  const l = renditionLadder({ width: 1280, height: 720, fps: 60 }, SRC);
  assert.deepEqual(l[0], { width: 1280, height: 720, fps: 60 });
  assert.deepEqual(l.at(-1), { width: 320, height: 180, fps: 15 });
  for (let i = 1; i < l.length; i++) assert.ok(pixelRate(l[i]) <= pixelRate(l[i - 1]));
  assert.equal(new Set(l.map((r) => `${r.width}x${r.fps}`)).size, l.length);
  // A 30 fps source has no 60 fps step.
  assert.ok(
    renditionLadder({ width: 640, height: 360, fps: 60 }, { ...SRC, fps: 30 })
      .every((r) => r.fps <= 30),
  );
});

import assert from "node:assert/strict";
import { demandError, renditionFor } from "./size_classes.ts";

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
  assert.deepEqual(odd, { width: 334, height: 334, fps: 30 });
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

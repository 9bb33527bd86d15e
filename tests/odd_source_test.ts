/**
 * An odd-sized source (1917x1079) is encoded at 1916x1078 by cropping its last column and row,
 * not by resampling: one-pixel stripes stay one-pixel stripes across the whole picture.
 */
import assert from "node:assert/strict";
import { H264Encoder } from "../ffi/encoder.ts";
import { renditionFor } from "../protocol/size_classes.ts";

Deno.test("an odd source is cropped to its even rendition, not resampled", async () => {
  const src = { width: 1917, height: 1079, fps: 30 };
  const r = renditionFor({ width: 4000, height: 4000, fps: 30 }, src);
  assert.deepEqual(r, { width: 1916, height: 1078, fps: 30 });
  const px = new Uint8Array(src.width * src.height * 4);
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const o = (y * src.width + x) * 4;
      px[o] = px[o + 1] = px[o + 2] = x % 2 ? 255 : 0; // one-pixel stripes
      px[o + 3] = 255;
    }
  }
  using enc = await H264Encoder.open({ ...r, bitrateKbps: 60000, preference: ["libx264"] });
  const f = await enc.encodeRgba(px, src.width, src.height, { forceIdr: true });
  const path = await Deno.makeTempFile({ suffix: ".h264" });
  try {
    await Deno.writeFile(path, f.data);
    const out = await new Deno.Command("ffmpeg", {
      args: [
        "-v",
        "error",
        "-i",
        path,
        "-frames:v",
        "1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const gray = out.stdout;
    assert.equal(gray.length, r.width * r.height);
    // Mean contrast between neighbouring columns in the right half of row 540: a resampled
    // picture has drifted half a pixel there (grey mush); a cropped one keeps full contrast.
    let contrast = 0;
    const row = 540 * r.width;
    for (let x = r.width / 2; x < r.width - 1; x++) {
      contrast += Math.abs(gray[row + x] - gray[row + x + 1]);
    }
    contrast /= r.width / 2 - 1;
    assert.ok(contrast > 150, `stripes keep their contrast (${contrast.toFixed(0)} of ~219)`);
  } finally {
    await Deno.remove(path);
  }
});

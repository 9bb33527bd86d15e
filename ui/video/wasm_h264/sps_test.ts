import assert from "node:assert/strict";
import { baselineCompatible, codecIsBaseline, nalUnits, parseSps } from "./sps.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));

// SPS written by the shim's x264 (tests/encoder_baseline_test.ts settings) and one High SPS from
// ffmpeg's libx264.
const SPS = {
  baseline360: hex("6742c01eda0280bfe59a80868320000003002000000791e2c5d4"),
  main720: hex("674d401fda014016e9a8086832000003000200000300791e306540"),
  baseline1080: hex("6742c028da01e0089f966a021a0c80000003008000001e478c1950"),
  main100x50: hex("674d400cda1c9e7889a8086832000003000200000300791e285540"),
  high1080: hex("67640028acd940780227e5c044000003000400000300c83c60c658"),
};

Deno.test("SPS: coded size in macroblocks, visible size from the cropping", () => {
  const cases: [Uint8Array, number, number, number, number, number, number][] = [
    [SPS.baseline360, 66, 0xc0, 640, 368, 640, 360],
    [SPS.main720, 77, 0x40, 1280, 720, 1280, 720],
    [SPS.baseline1080, 66, 0xc0, 1920, 1088, 1920, 1080],
    [SPS.main100x50, 77, 0x40, 112, 64, 100, 50],
    [SPS.high1080, 100, 0x00, 1920, 1088, 1920, 1080],
  ];
  for (const [nal, profile, constraints, cw, ch, w, h] of cases) {
    const s = parseSps(nal);
    assert.ok(s);
    assert.equal(s.profileIdc, profile);
    assert.equal(s.constraints, constraints);
    assert.deepEqual([s.codedWidth, s.codedHeight], [cw, ch]);
    assert.deepEqual(s.visible, { x: 0, y: 0, width: w, height: h });
  }
  assert.equal(parseSps(hex("68ce3c80")), null); // a PPS
  assert.equal(parseSps(SPS.main720.subarray(0, 6)), null); // cut short
});

Deno.test("NAL units of an Annex-B access unit (3- and 4-byte start codes)", () => {
  const au = new Uint8Array([0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0]);
  const nals = nalUnits(au);
  assert.deepEqual(nals.map((n) => n.type), [7, 8, 5]);
  assert.deepEqual([...nals[0].bytes], [0x67, 1, 2]);
  assert.deepEqual([...nals[1].bytes], [0x68, 3]);
  assert.deepEqual([...nals[2].bytes], [0x65, 4, 5]);
});

Deno.test("Baseline-compatible profiles and codec strings", () => {
  assert.ok(codecIsBaseline("avc1.42c01f"));
  assert.ok(codecIsBaseline("avc1.42E01E"));
  assert.ok(codecIsBaseline("avc1.420028")); // Baseline without constraint flags
  assert.ok(codecIsBaseline("avc1.4dc01f")); // Main stream promising Baseline conformance
  assert.ok(!codecIsBaseline("avc1.4d401f")); // Main (CABAC)
  assert.ok(!codecIsBaseline("avc1.640028"));
  assert.ok(!codecIsBaseline("vp8"));
  assert.ok(baselineCompatible(66, 0) && !baselineCompatible(77, 0x40));
});

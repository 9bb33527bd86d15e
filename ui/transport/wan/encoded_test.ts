import assert from "node:assert/strict";
import { frameSeiNal } from "../../../protocol/frame_sei.ts";
import { avcCodecString, inspectAccessUnit } from "./encoded.ts";
import { encodedFrameApi, readReceiverStats } from "./video_livekit.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const SC = [0, 0, 0, 1];
// x264's Constrained Baseline SPS for 640x360 (ui/video/wasm_h264/sps_test.ts).
const SPS = hex("6742c01eda0280bfe59a80868320000003002000000791e2c5d4");

function au(...nals: Uint8Array[]): Uint8Array {
  const parts = nals.flatMap((n) => [...SC, ...n]);
  return new Uint8Array(parts);
}

Deno.test("WAN frames: IDR, SPS (size and codec string) and smx's timing SEI", () => {
  const timing = { frame: 1234, captureUs: 1.7e15, sentUs: 1.7e15 + 5000, encodeMs: 3.5 };
  const sei = frameSeiNal(timing).subarray(4);
  const key = inspectAccessUnit(au(SPS, hex("68ce3c80"), sei, hex("658884")));
  assert.equal(key.keyframe, true);
  assert.deepEqual(key.format, { codec: "avc1.42c01e", width: 640, height: 360 });
  assert.deepEqual(key.timing, timing);
  const delta = inspectAccessUnit(au(sei, hex("419a22")));
  assert.equal(delta.keyframe, false);
  assert.equal(delta.format, null);
  assert.equal(delta.timing?.frame, 1234);
  const bare = inspectAccessUnit(au(hex("419a22")));
  assert.deepEqual(bare, { keyframe: false, format: null, timing: null });
  assert.equal(avcCodecString(66, 0xe0, 31), "avc1.42e01f");
});

Deno.test("WAN frames: which encoded-frame API a browser offers", () => {
  assert.equal(encodedFrameApi({} as typeof globalThis), null);
  assert.equal(
    encodedFrameApi({ RTCRtpScriptTransform: function () {} } as unknown as typeof globalThis),
    "script-transform",
  );
  class R {
    createEncodedStreams() {}
  }
  assert.equal(
    encodedFrameApi({ RTCRtpReceiver: R } as unknown as typeof globalThis),
    "encoded-streams",
  );
});

Deno.test("WAN frames: RTT, loss and jitter from a receiver's stats", () => {
  const report = new Map<string, unknown>([
    ["a", { type: "inbound-rtp", kind: "video", packetsLost: 3, jitter: 0.004 }],
    ["b", {
      type: "candidate-pair",
      nominated: true,
      state: "succeeded",
      currentRoundTripTime: 0.021,
    }],
    ["c", { type: "candidate-pair", nominated: false, state: "waiting", currentRoundTripTime: 9 }],
  ]);
  const s = readReceiverStats(report);
  assert.equal(s.packetsLost, 3);
  assert.ok(Math.abs(s.jitterMs - 4) < 1e-9);
  assert.ok(Math.abs(s.rttMs - 21) < 1e-9);
  assert.ok(Number.isNaN(readReceiverStats(new Map()).rttMs));
});

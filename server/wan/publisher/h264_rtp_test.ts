import assert from "node:assert/strict";
import { H264RtpPayload } from "werift";
import { H264Encoder } from "../../../ffi/encoder.ts";
import { PatternSender } from "../../../ffi/pattern.ts";
import { FrameRingReader } from "../../../ffi/ring.ts";
import { readFrameSei, withFrameSei } from "../../../protocol/frame_sei.ts";
import { H264_CLOCK_RATE, H264RtpPacketizer, RTP_MAX_PAYLOAD } from "./h264_rtp.ts";

/** Real access units from libx264 (Constrained Baseline) encoding the test pattern. */
async function encodedFrames(n: number) {
  const ring = `h264rtp-${Deno.pid}`;
  const sender = PatternSender.start(ring, 640, 360, 60);
  const enc = await H264Encoder.open({
    width: 640,
    height: 360,
    fps: 30,
    preference: ["libx264"],
    profile: "baseline",
  });
  const reader = FrameRingReader.open(ring);
  try {
    const out = [];
    let last = 0n;
    while (out.length < n) {
      if (!(await reader.wait(last, 1000))) continue;
      const f = await enc.encodeRing(reader, out.length === 0);
      if (!f) continue;
      last = BigInt(f.frame);
      out.push(f);
    }
    return out;
  } finally {
    reader.close();
    enc.close();
    sender.stop();
  }
}

/** Reassembles Annex-B access units from packets with werift's depacketizer. */
function depacketize(packets: { payload: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let fragment: Uint8Array | undefined;
  for (const p of packets) {
    // deno-lint-ignore no-explicit-any
    const h = H264RtpPayload.deSerialize(p.payload as any, fragment as any);
    fragment = h.fragment;
    if (h.payload?.length) parts.push(h.payload);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("an IDR with its SEI is packetized with FU-A, STAP-A and one marker", async () => {
  const [idr, delta] = await encodedFrames(2);
  assert.ok(idr.keyframe && !delta.keyframe);
  const timing = { frame: idr.frame, captureUs: idr.captureUs, sentUs: 1, encodeMs: 2.5 };
  const au = withFrameSei(idr.data, timing);
  const p = new H264RtpPacketizer();
  const packets = p.packetize(au, idr.captureUs);
  assert.ok(packets.length > 3, `an IDR takes several packets (${packets.length})`);
  for (const pkt of packets) {
    assert.ok(pkt.payload.length <= RTP_MAX_PAYLOAD, "payload within the MTU budget");
  }
  assert.deepEqual(
    packets.map((x) => x.header.marker),
    packets.map((_, i) => i === packets.length - 1),
  );
  assert.equal(new Set(packets.map((x) => x.header.timestamp)).size, 1, "one timestamp per AU");
  for (let i = 1; i < packets.length; i++) {
    assert.equal(
      packets[i].header.sequenceNumber,
      (packets[i - 1].header.sequenceNumber + 1) & 0xffff,
      "consecutive sequence numbers",
    );
  }
  assert.equal(packets[0].payload[0] & 0x1f, 24, "SPS+PPS travel as one STAP-A");
  assert.ok(packets.some((x) => (x.payload[0] & 0x1f) === 28), "the IDR slice is FU-A");
  // What a receiver rebuilds carries the timing SEI untouched.
  const back = depacketize(packets);
  assert.deepEqual(readFrameSei(back), timing);
});

Deno.test("timestamps follow capture times at 90 kHz and never go backwards", () => {
  const p = new H264RtpPacketizer();
  const t0 = 1_700_000_000_000_000;
  const a = p.timestamp(t0);
  const b = p.timestamp(t0 + 33_333);
  const c = p.timestamp(t0 + 1_000_000);
  assert.equal((b - a) >>> 0, 3000);
  assert.equal((c - a) >>> 0, H264_CLOCK_RATE);
  const d = p.timestamp(t0 + 500_000); // a capture clock that stepped back
  assert.ok(((d - c) >>> 0) > 0 && ((d - c) >>> 0) < 10, "still moves forward");
});

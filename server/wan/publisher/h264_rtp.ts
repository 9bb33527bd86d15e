/**
 * One H.264 access unit (Annex-B, as ffi/encoder.ts gives it) → RTP packets (RFC 6184,
 * packetization-mode 1): werift's H264Packetizer does the NAL work (single NAL units, STAP-A for
 * SPS+PPS, FU-A above the payload size, the marker bit on the access unit's last packet); this
 * adds the 90 kHz clock.
 *
 * Timestamps come from the frame's capture time (µs), not from a frame counter: the session
 * skips frames when it falls behind and the engine's own clock says how far apart two frames
 * really are, so the receiver's jitter buffer and A/V-less playout see true spacing. The clock
 * starts at a random offset (RFC 3550 §5.1) and never runs backwards, even if capture times do
 * (an engine restart with another clock).
 */
import { Buffer } from "node:buffer";
import { H264Packetizer, type RtpPacket } from "werift";

/** RTP payload bytes per packet: room for SRTP and the SFU's header extensions in 1500 MTU. */
export const RTP_MAX_PAYLOAD = 1200;
export const H264_CLOCK_RATE = 90_000;

export class H264RtpPacketizer {
  readonly #packetizer: H264Packetizer;
  readonly #base = crypto.getRandomValues(new Uint32Array(1))[0];
  #firstUs: number | undefined;
  #lastTicks = -1;

  constructor(opts: { maxPayloadSize?: number } = {}) {
    this.#packetizer = new H264Packetizer({
      maxPayloadSize: opts.maxPayloadSize ?? RTP_MAX_PAYLOAD,
      inputFormat: "annexb",
    });
  }

  /** The 90 kHz RTP timestamp of a frame captured at `captureUs`. */
  timestamp(captureUs: number): number {
    this.#firstUs ??= captureUs;
    let ticks = Math.round((captureUs - this.#firstUs) * H264_CLOCK_RATE / 1e6);
    if (ticks <= this.#lastTicks) ticks = this.#lastTicks + 1; // never backwards, never equal
    this.#lastTicks = ticks;
    return (this.#base + ticks) >>> 0;
  }

  /** The access unit's packets, in order, the last one with the marker bit. */
  packetize(au: Uint8Array, captureUs: number): RtpPacket[] {
    const data = Buffer.from(au.buffer, au.byteOffset, au.byteLength);
    return this.#packetizer.packetize(data, this.timestamp(captureUs));
  }
}

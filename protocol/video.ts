/**
 * Video wire format between smx and a browser on the local reaches (runtime-neutral: imported by
 * server/ and ui/). Control messages are JSON text frames; each encoded picture is one binary
 * frame: a fixed 32-byte little-endian header, then the payload of the stream's codec (an H.264
 * Annex-B access unit, or one complete JPEG file).
 *
 *   off size field
 *   0   u8   version (1)
 *   1   u8   flags: bit0 keyframe (IDR with SPS/PPS; every JPEG frame)
 *   2   u16  stream id (chosen by the client per tile in its subscribe message)
 *   4   u32  engine frame number (from the frame ring / stamp)
 *   8   f64  capture time, µs since the Unix epoch (engine clock)
 *   16  f64  time smx handed the frame to the socket, µs since the epoch
 *   24  u16  coded width
 *   26  u16  coded height
 *   28  f32  encode time ms (conversion + encode)
 */

export const VIDEO_HEADER_BYTES = 32;
export const VIDEO_WIRE_VERSION = 1;
export const FLAG_KEYFRAME = 1;

export interface VideoFrameHeader {
  keyframe: boolean;
  stream: number;
  frame: number;
  captureUs: number;
  sentUs: number;
  width: number;
  height: number;
  encodeMs: number;
}

/** Writes header + payload into one new buffer ready for `ws.send`. */
export function packVideoFrame(h: VideoFrameHeader, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(VIDEO_HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, VIDEO_WIRE_VERSION);
  v.setUint8(1, h.keyframe ? FLAG_KEYFRAME : 0);
  v.setUint16(2, h.stream, true);
  v.setUint32(4, h.frame >>> 0, true);
  v.setFloat64(8, h.captureUs, true);
  v.setFloat64(16, h.sentUs, true);
  v.setUint16(24, h.width, true);
  v.setUint16(26, h.height, true);
  v.setFloat32(28, h.encodeMs, true);
  out.set(payload, VIDEO_HEADER_BYTES);
  return out;
}

/** Parses a binary message; throws on a short or foreign buffer. */
export function unpackVideoFrame(
  buf: ArrayBuffer,
): { header: VideoFrameHeader; payload: Uint8Array } {
  if (buf.byteLength < VIDEO_HEADER_BYTES) throw new Error("video frame shorter than its header");
  const v = new DataView(buf);
  if (v.getUint8(0) !== VIDEO_WIRE_VERSION) throw new Error(`video wire version ${v.getUint8(0)}`);
  return {
    header: {
      keyframe: (v.getUint8(1) & FLAG_KEYFRAME) !== 0,
      stream: v.getUint16(2, true),
      frame: v.getUint32(4, true),
      captureUs: v.getFloat64(8, true),
      sentUs: v.getFloat64(16, true),
      width: v.getUint16(24, true),
      height: v.getUint16(26, true),
      encodeMs: v.getFloat32(28, true),
    },
    payload: new Uint8Array(buf, VIDEO_HEADER_BYTES),
  };
}

/**
 * What a page asks smx to encode for it, by what it can decode (ui/video/pipelines.ts):
 *  - "h264": H.264 Main (CABAC), for WebCodecs' VideoDecoder (secure contexts: loopback, HTTPS);
 *  - "h264-baseline": Constrained Baseline (CAVLC), for the WASM decoder of pages without
 *    WebCodecs (a LAN address over plain HTTP in Chromium and Firefox);
 *  - "jpeg": one standalone JPEG per frame, for pages that can run neither (createImageBitmap).
 * A rendition is encoded once per codec that someone watches; the same demand in another codec
 * is another encode session.
 */
export const VIDEO_CODECS = ["h264", "h264-baseline", "jpeg"] as const;
export type VideoCodec = typeof VIDEO_CODECS[number];
export const DEFAULT_VIDEO_CODEC: VideoCodec = "h264";

export function isVideoCodec(v: unknown): v is VideoCodec {
  return typeof v === "string" && (VIDEO_CODECS as readonly string[]).includes(v);
}

/** Client → smx control messages on the video socket. */
export type VideoClientMessage =
  | {
    type: "subscribe";
    stream: number;
    source: string;
    width: number;
    height: number;
    fps: number;
    /** Default DEFAULT_VIDEO_CODEC. */
    codec?: VideoCodec;
  }
  | { type: "unsubscribe"; stream: number }
  | { type: "keyframe"; stream: number } // the decoder saw a gap: ask for an IDR
  | VideoAck
  | VideoReport;

/**
 * Sent by the page for every binary frame the moment it arrives. smx bounds what it has in
 * flight to a viewer by these: the kernel's socket buffers are invisible to `bufferedAmount`, so
 * only the receiver can say how far behind it is.
 */
export interface VideoAck {
  type: "ack";
  stream: number;
  frame: number;
}

/**
 * The page's view of one stream, about twice a second: whether its decoder and canvas keep up
 * with the rendition's rate. smx lowers the rate before frames queue in the page.
 */
export interface VideoReport {
  type: "report";
  stream: number;
  /** Frames drawn in the last second. */
  fps: number;
  /** Chunks waiting in the VideoDecoder. */
  decodeQueue: number;
  /** Median arrival → decoded and draw durations, ms. */
  decodeMs: number;
  drawMs: number;
}

/** Seconds between a page's reports per stream (smx tolerates any cadence). */
export const VIDEO_REPORT_INTERVAL_MS = 500;

/**
 * Why a viewer gets less than it asked for: its link is slower than the rendition ("link"), its
 * decoder or canvas cannot keep up ("decoder"), smx's encoder cannot ("encoder"), or the
 * machine's encode budget is spent and an existing rendition serves it ("budget").
 */
export type VideoLimit = "link" | "decoder" | "encoder" | "budget";

/** smx → client control messages on the video socket. */
export type VideoServerMessage =
  | {
    type: "subscribed";
    stream: number;
    source: string;
    width: number;
    height: number;
    fps: number;
    encoder: string;
    /** The codec asked for in the subscribe (what the payloads are). */
    format: VideoCodec;
    /** "avc1.4d401f" (VideoDecoder.configure), "avc1.42c01f" (Baseline) or "jpeg". */
    codec: string;
    /** Present when the rendition is below the demand's, with the reason and what was asked. */
    limited?: { by: VideoLimit; asked: { width: number; height: number; fps: number } };
  }
  | { type: "ended"; stream: number; reason: string }
  | { type: "error"; stream?: number; message: string };

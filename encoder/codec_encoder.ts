/**
 * The one place that knows which native encoder serves which VideoCodec: an encode session opens
 * its encoder here and drives it through CodecEncoder, whatever the codec is.
 *
 *  - "h264": H264Encoder, Main profile (WebCodecs pages);
 *  - "h264-baseline": H264Encoder, Constrained Baseline (the WASM decoder of non-secure pages);
 *  - "jpeg": JpegEncoder, one standalone picture per frame (createImageBitmap).
 */
import { type EncodedFrame, H264Encoder, type RingSource } from "../ffi/encoder.ts";
import { JpegEncoder } from "../ffi/jpeg.ts";
import { WinH264Encoder } from "../ffi/win_encoder.ts";
import type { VideoCodec } from "../protocol/video.ts";
import type { Rendition } from "../protocol/size_classes.ts";

export interface CodecEncoder {
  /** What encodes ("libx264", "h264_nvenc", "libjpeg-turbo"): stats and `subscribed`. */
  readonly name: string;
  /** The codec string a viewer is told ("avc1.4d401f", "avc1.42c01f", "jpeg"). */
  readonly codec: string;
  /**
   * Encodes the reader's newest frame; null when nothing was encoded (torn or no frame yet).
   * `idr` asks for a keyframe; intra-only codecs ignore it (every frame is one). A JPEG frame
   * has EncodedFrame's shape with its payload a complete JPEG file instead of an access unit.
   */
  encodeRing(reader: RingSource, idr: boolean): Promise<EncodedFrame | null>;
  close(): void;
}

export interface CodecEncoderOptions extends Rendition {
  codec: VideoCodec;
  /** H.264 only (JPEG's size follows its quality). */
  bitrateKbps?: number;
  /** libavcodec encoder names in order of preference; H.264 only. */
  encoderPreference?: string[];
}

/** Whether every frame of `codec` stands alone, so a viewer never waits for a keyframe. */
export function isIntraOnly(codec: VideoCodec): boolean {
  return codec === "jpeg";
}

/** Opens the encoder for `o.codec` at the rendition's size; rejects when it cannot. */
export async function openCodecEncoder(o: CodecEncoderOptions): Promise<CodecEncoder> {
  switch (o.codec) {
    case "jpeg":
      return JpegEncoder.open({ width: o.width, height: o.height });
    case "h264":
    case "h264-baseline":
      // Windows: NVENC on D3D11 or Media Foundation (ffi/win_encoder.ts), same interface.
      return await (Deno.build.os === "windows" ? WinH264Encoder : H264Encoder).open({
        width: o.width,
        height: o.height,
        fps: o.fps,
        bitrateKbps: o.bitrateKbps,
        preference: o.encoderPreference,
        profile: o.codec === "h264" ? "main" : "baseline",
      });
  }
}

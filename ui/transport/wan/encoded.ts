/**
 * What the WAN receiver reads from one encoded H.264 access unit as WebRTC hands it over
 * (Annex-B, start codes, in an RTCEncodedVideoFrame): whether it is an IDR (NAL type 5), the SPS
 * when it carries one (picture size and the WebCodecs codec string), and smx's frame timing SEI
 * (protocol/frame_sei.ts: engine frame number, capture/send time, encode ms). Pure; runs in the
 * receive worker.
 */
import { type FrameTiming, readFrameSei } from "../../../protocol/frame_sei.ts";
import { nalUnits, parseSps } from "../../video/wasm_h264/sps.ts";

export interface StreamFormat {
  /** WebCodecs codec string from the SPS ("avc1.42c01f"). */
  codec: string;
  /** Visible picture size (cropping applied). */
  width: number;
  height: number;
}

export interface AccessUnitFacts {
  keyframe: boolean;
  format: StreamFormat | null;
  timing: FrameTiming | null;
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** `avc1.PPCCLL` from profile_idc, the constraint flags byte and level_idc. */
export function avcCodecString(profileIdc: number, constraints: number, levelIdc: number): string {
  return `avc1.${hex2(profileIdc)}${hex2(constraints)}${hex2(levelIdc)}`;
}

export function inspectAccessUnit(au: Uint8Array): AccessUnitFacts {
  let keyframe = false;
  let format: StreamFormat | null = null;
  let sei = false;
  for (const n of nalUnits(au)) {
    if (n.type === 5) keyframe = true;
    else if (n.type === 7 && !format) {
      const s = parseSps(n.bytes);
      if (s) {
        format = {
          codec: avcCodecString(s.profileIdc, s.constraints, s.levelIdc),
          width: s.visible.width,
          height: s.visible.height,
        };
      }
    } else if (n.type === 6) sei = true;
  }
  return { keyframe, format, timing: sei ? readFrameSei(au) : null };
}

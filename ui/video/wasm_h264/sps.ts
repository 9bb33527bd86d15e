/**
 * The little of H.264 the WASM decoder's worker must know itself: where the NAL units of an
 * Annex-B access unit are, and what a sequence parameter set says about the profile and the
 * picture size. The decoder (h264bsd) hands out whole macroblocks (a 640x360 stream comes out as
 * 640x368) and ignores the SPS's cropping, so the visible rectangle of each VideoFrame is taken
 * from here.
 */

export interface Nal {
  /** nal_unit_type (5 = IDR slice, 1 = non-IDR slice, 7 = SPS, 8 = PPS). */
  type: number;
  /** The NAL unit without its start code: header byte first. */
  bytes: Uint8Array;
}

/** The NAL units of an Annex-B access unit (3- or 4-byte start codes). */
export function nalUnits(au: Uint8Array): Nal[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  const out: Nal[] = [];
  for (let k = 0; k < starts.length; k++) {
    let end = k + 1 < starts.length ? starts[k + 1] - 3 : au.length;
    while (end > starts[k] && au[end - 1] === 0) end--; // a 4-byte start code's extra zero
    if (end > starts[k]) {
      out.push({ type: au[starts[k]] & 0x1f, bytes: au.subarray(starts[k], end) });
    }
  }
  return out;
}

export interface SpsInfo {
  profileIdc: number;
  /** constraint_set0..5 flags and the two reserved bits, as in the codec string ("c0"). */
  constraints: number;
  levelIdc: number;
  /** Decoded picture size: whole macroblocks. */
  codedWidth: number;
  codedHeight: number;
  /** The part to show (frame cropping applied), in luma pixels. */
  visible: { x: number; y: number; width: number; height: number };
}

/** Reads bits of an RBSP (emulation-prevention bytes already removed). */
class Bits {
  #pos = 0;
  constructor(private b: Uint8Array) {}
  bit(): number {
    const byte = this.#pos >> 3;
    if (byte >= this.b.length) throw new RangeError("SPS ends early");
    const v = (this.b[byte] >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError("bad Exp-Golomb code in SPS");
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -k / 2;
  }
}

function rbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0, zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices. */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Parses an SPS NAL unit (header byte first); null when it is not one or is malformed. */
export function parseSps(nal: Uint8Array): SpsInfo | null {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) return null;
  try {
    const r = new Bits(rbsp(nal.subarray(1)));
    const profileIdc = r.bits(8), constraints = r.bits(8), levelIdc = r.bits(8);
    r.ue(); // seq_parameter_set_id
    let chromaFormat = 1, separateColourPlane = 0;
    if (HIGH_PROFILES.has(profileIdc)) {
      chromaFormat = r.ue();
      if (chromaFormat === 3) separateColourPlane = r.bit();
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.bit(); // qpprime_y_zero_transform_bypass_flag
      if (r.bit()) { // seq_scaling_matrix_present_flag
        for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
          if (!r.bit()) continue;
          const size = i < 6 ? 16 : 64;
          let last = 8, next = 8;
          for (let j = 0; j < size; j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit(); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit(); // mb_adaptive_frame_field_flag
    r.bit(); // direct_8x8_inference_flag
    const codedWidth = widthMbs * 16;
    const codedHeight = heightMapUnits * 16 * (2 - frameMbsOnly);
    let [left, right, top, bottom] = [0, 0, 0, 0];
    if (r.bit()) [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const chroma = separateColourPlane ? 0 : chromaFormat;
    const cropX = chroma === 1 || chroma === 2 ? 2 : 1;
    const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const x = left * cropX, y = top * cropY;
    const width = codedWidth - (left + right) * cropX;
    const height = codedHeight - (top + bottom) * cropY;
    if (width <= 0 || height <= 0) return null;
    return {
      profileIdc,
      constraints,
      levelIdc,
      codedWidth,
      codedHeight,
      visible: { x, y, width, height },
    };
  } catch {
    return null;
  }
}

/**
 * Whether a stream can be decoded without CABAC, 8x8 transforms, B-frames or interlace: profile
 * Baseline (66, constrained or not: h264bsd also does FMO/ASO), or any profile whose
 * constraint_set0_flag promises Baseline conformance.
 */
export function baselineCompatible(profileIdc: number, constraints: number): boolean {
  return profileIdc === 66 || (constraints & 0x80) !== 0;
}

/** The same test on a WebCodecs codec string ("avc1.42c01f", "avc1.42E01E"). */
export function codecIsBaseline(codec: string): boolean {
  const m = /^avc[13]\.([0-9a-f]{2})([0-9a-f]{2})[0-9a-f]{2}$/i.exec(codec);
  return !!m && baselineCompatible(parseInt(m[1], 16), parseInt(m[2], 16));
}

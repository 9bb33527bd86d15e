/**
 * A frame's timing inside its own H.264 access unit, for paths where smx's 32-byte frame header
 * cannot travel (WebRTC through the SFU): one SEI NAL unit (user_data_unregistered, payload type 5)
 * with smx's UUID, put before the first slice. Decoders ignore it; the SFU forwards it untouched;
 * the page reads it from the encoded frame (RTCRtpScriptTransform) and so knows the engine frame
 * number and capture time of what it draws, exactly as on the local reach.
 *
 * Payload after the UUID (28 bytes, little-endian): frame u64, captureUs f64, sentUs f64,
 * encodeMs f32. Emulation prevention is applied and removed here.
 */

/** smx's SEI UUID ("smx frame timing", v1). */
export const FRAME_SEI_UUID = new Uint8Array([
  0x73,
  0x6d,
  0x78,
  0x2d,
  0x66,
  0x72,
  0x61,
  0x6d,
  0x65,
  0x2d,
  0x74,
  0x69,
  0x6d,
  0x65,
  0x76,
  0x31,
]);
const PAYLOAD_BYTES = 28;

export interface FrameTiming {
  frame: number;
  captureUs: number;
  sentUs: number;
  encodeMs: number;
}

/** Inserts 0x03 wherever 00 00 would be followed by 00..03 (H.264 7.4.1). */
function addEmulationPrevention(rbsp: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return new Uint8Array(out);
}

function removeEmulationPrevention(ebsp: Uint8Array): Uint8Array {
  const out = new Uint8Array(ebsp.length);
  let n = 0, zeros = 0;
  for (const b of ebsp) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/** One SEI NAL unit (with its 4-byte start code) carrying `t`. */
export function frameSeiNal(t: FrameTiming): Uint8Array {
  const rbsp = new Uint8Array(2 + 16 + PAYLOAD_BYTES + 1);
  rbsp[0] = 5; // payloadType: user_data_unregistered
  rbsp[1] = 16 + PAYLOAD_BYTES; // payloadSize (< 255: one byte)
  rbsp.set(FRAME_SEI_UUID, 2);
  const v = new DataView(rbsp.buffer, 18, PAYLOAD_BYTES);
  v.setBigUint64(0, BigInt(Math.max(0, Math.trunc(t.frame))), true);
  v.setFloat64(8, t.captureUs, true);
  v.setFloat64(16, t.sentUs, true);
  v.setFloat32(24, t.encodeMs, true);
  rbsp[rbsp.length - 1] = 0x80; // rbsp_trailing_bits
  const body = addEmulationPrevention(rbsp);
  const nal = new Uint8Array(5 + body.length);
  nal.set([0, 0, 0, 1, 0x06]);
  nal.set(body, 5);
  return nal;
}

/** Offsets of NAL units (after their start codes) in an Annex-B buffer, with their ends. */
export function annexBUnits(au: Uint8Array): { start: number; end: number }[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? starts[k + 1] - 3 : au.length;
    if (k + 1 < starts.length && end > s && au[end - 1] === 0) end--; // a 4-byte start code
    return { start: s, end };
  });
}

/**
 * The access unit with the timing SEI before its first slice (after SPS/PPS/AUD, which must
 * lead). An access unit with no slice is returned unchanged.
 */
export function withFrameSei(au: Uint8Array, t: FrameTiming): Uint8Array {
  const units = annexBUnits(au);
  const slice = units.find((u) => {
    const type = au[u.start] & 0x1f;
    return type === 1 || type === 5;
  });
  if (!slice) return au;
  // Back up over the slice's start code (3 or 4 bytes).
  let at = slice.start - 3;
  if (at > 0 && au[at - 1] === 0) at--;
  const sei = frameSeiNal(t);
  const out = new Uint8Array(au.length + sei.length);
  out.set(au.subarray(0, at), 0);
  out.set(sei, at);
  out.set(au.subarray(at), at + sei.length);
  return out;
}

/** The timing smx put in an access unit, or null when it has none. */
export function readFrameSei(au: Uint8Array): FrameTiming | null {
  for (const u of annexBUnits(au)) {
    if ((au[u.start] & 0x1f) !== 6) continue;
    const rbsp = removeEmulationPrevention(au.subarray(u.start + 1, u.end));
    let i = 0;
    while (i + 2 <= rbsp.length && rbsp[i] !== 0x80) {
      let type = 0, size = 0;
      while (rbsp[i] === 0xff) type += rbsp[i++];
      type += rbsp[i++];
      while (rbsp[i] === 0xff) size += rbsp[i++];
      size += rbsp[i++];
      if (i + size > rbsp.length) break;
      if (type === 5 && size >= 16 + PAYLOAD_BYTES && sameUuid(rbsp.subarray(i, i + 16))) {
        const v = new DataView(rbsp.buffer, rbsp.byteOffset + i + 16, PAYLOAD_BYTES);
        return {
          frame: Number(v.getBigUint64(0, true)),
          captureUs: v.getFloat64(8, true),
          sentUs: v.getFloat64(16, true),
          encodeMs: v.getFloat32(24, true),
        };
      }
      i += size;
    }
  }
  return null;
}

function sameUuid(b: Uint8Array): boolean {
  for (let k = 0; k < 16; k++) if (b[k] !== FRAME_SEI_UUID[k]) return false;
  return true;
}

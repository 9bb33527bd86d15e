/**
 * Where an encode session's frames come from, whatever the platform: a frame ring on Linux
 * (ffi/ring.ts FrameRingReader), a Spout sender on Windows (ffi/spout.ts SpoutReceiver). Both
 * implement FrameSource, and the platform's encoder takes either through `encodeRing` (their
 * native handle: ffi/encoder.ts on Linux, ffi/win_encoder.ts on Windows).
 *
 * A source is named by a reference string: a ring name ("smx-demo-123.main"), or
 * "spout:<sender name>" for a Spout sender. References appear in SourceInfo.ring and in the
 * catalog's ids for senders no engine claims.
 */
import type { RingSource } from "../ffi/encoder.ts";
import { FrameRingReader, listSenders } from "../ffi/ring.ts";
import { listSpoutSenders, SpoutReceiver } from "../ffi/spout.ts";
import type { FrameSenderInfo } from "../protocol/engine_descriptor.ts";

export const SPOUT_PREFIX = "spout:";

/** What a session reads: wait for a frame, look at it, hand the native handle to the encoder. */
export interface FrameSource extends RingSource, Disposable {
  readonly name: string;
  /** A frame newer than `afterFrame` is there (true), or timeout (false); WriterGoneError. */
  wait(afterFrame: bigint, timeoutMs: number): Promise<boolean>;
  info(): { frame: bigint; captureUs: bigint; width: number; height: number };
  /** The newest frame as packed pixels (CPU); null when there is nothing to copy this time. */
  copyLatest(): Promise<
    {
      pixels: Uint8Array;
      info: { frame: bigint; captureUs: bigint; width: number; height: number; stride: number };
    } | null
  >;
  close(): void;
}

/** A live sender this machine offers, as the catalog lists it. */
export interface FrameSenderListing {
  /** Reference to open it with (openFrameSource). */
  ref: string;
  /** The sender's own name (ring name or Spout sender name). */
  name: string;
  width: number;
  height: number;
}

/** The engine-descriptor transport this platform reads. */
export const PLATFORM_TRANSPORT: FrameSenderInfo["transport"] = Deno.build.os === "windows"
  ? "spout"
  : "frame-ring";

/** Reference of an engine's sender ("spout:<name>" for Spout, the ring name otherwise). */
export function sourceRefOf(s: Pick<FrameSenderInfo, "transport" | "name">): string {
  return s.transport === "spout" ? `${SPOUT_PREFIX}${s.name}` : s.name;
}

/** Opens the source a reference names: NotFoundError / WriterGoneError when it is not there. */
export function openFrameSource(ref: string): FrameSource {
  if (ref.startsWith(SPOUT_PREFIX)) return SpoutReceiver.open(ref.slice(SPOUT_PREFIX.length));
  return FrameRingReader.open(ref);
}

/** The live senders of this platform: frame rings on Linux, Spout senders on Windows. */
export function listFrameSenders(): FrameSenderListing[] {
  if (Deno.build.os === "windows") {
    return listSpoutSenders().map((s) => ({
      ref: `${SPOUT_PREFIX}${s.name}`,
      name: s.name,
      width: s.width,
      height: s.height,
    }));
  }
  return listSenders().map((r) => ({
    ref: r.name,
    name: r.name,
    width: r.width,
    height: r.height,
  }));
}

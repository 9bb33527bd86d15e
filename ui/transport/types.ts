/**
 * The transport seam. UI components see only these interfaces; where the bytes come from (a
 * localhost WebSocket today, a LAN app or a LiveKit room later) is decided once, in select.ts.
 * Nothing here may mention WebSocket, URLs or a specific server.
 */
import type { ReadonlySignal } from "@preact/signals";

import type { VideoCodec, VideoLimit } from "../../protocol/video.ts";
import type {
  ChannelMeta,
  LinkState as EngineLinkState,
  ParamValue,
  PointerChannels,
} from "../../protocol/params.ts";

export type { ChannelMeta, ParamValue, VideoCodec, VideoLimit };

/**
 * The health of one of our own links (to smx today; to a relay later). "busy": the server is at
 * its connection limit and said to come back later (WebSocket close 1013); retried slowly.
 * "expired" / "disconnected": this LAN device's pairing ended (rotated on the smx machine, or
 * this device was disconnected there); not retried: the user must pair again.
 */
export type ConnectionState =
  | "connecting"
  | "open"
  | "reconnecting"
  | "busy"
  | "expired"
  | "disconnected";

/** Whether smx currently mirrors a live engine: "connected" | "connecting" | "offline". */
export type EngineState = EngineLinkState;

export interface EngineStatus {
  state: EngineState;
  name: string | null;
  /** Why it is not connected, when smx says. */
  message?: string;
}

/** Pointer sub-channel paths of a source (absent when the source takes no pointer). */
export type PointerPaths = PointerChannels;

/** One picture the engine offers. */
export interface SourceInfo {
  id: string;
  label: string;
  width: number;
  height: number;
  fps: number;
  pointer?: PointerPaths;
}

/**
 * What a tile asks for: its on-screen size in device pixels, the rate it can show, and what it
 * can decode (default "h264": WebCodecs; see ui/video/paths.ts).
 */
export interface VideoDemand {
  width: number;
  height: number;
  fps: number;
  codec?: VideoCodec;
}

/** What the sender actually delivers for a subscription (after its size-class rounding). */
export interface StreamInfo {
  source: string;
  width: number;
  height: number;
  fps: number;
  encoder: string;
  /** What the payloads are (the demand's codec). */
  format: VideoCodec;
  /** WebCodecs codec string, e.g. "avc1.4d401f"; "jpeg" for JPEG streams. */
  codec: string;
  /** Set when the sender gives less than the demand asked, and why. */
  limited?: { by: VideoLimit; asked: VideoDemand };
}

/** How the page keeps up with a stream (sent to the sender twice a second). */
export interface PlaybackReport {
  /** Frames drawn in the last second. */
  fps: number;
  decodeQueue: number;
  decodeMs: number;
  drawMs: number;
}

/** One encoded picture: an H.264 Annex-B access unit (no description) or a JPEG file. */
export interface EncodedFrame {
  keyframe: boolean;
  /** Engine frame number. */
  frame: number;
  /** Capture time on the engine, µs since the Unix epoch. */
  captureUs: number;
  /** When the sender handed it to the wire, µs since the Unix epoch. */
  sentUs: number;
  width: number;
  height: number;
  encodeMs: number;
  /** Arrival time, ms since the Unix epoch (performance.timeOrigin + performance.now()). */
  receivedMs: number;
  data: Uint8Array;
}

/** Callbacks a subscriber gives; called synchronously on arrival (no extra hop). */
export interface VideoSink {
  frame(f: EncodedFrame): void;
  /** The sender (re)started this subscription; a keyframe follows. */
  info(i: StreamInfo): void;
  /** The sender stopped it (source gone, error); the subscription stays and resumes on demand. */
  ended?(reason: string): void;
}

/** A tile's handle on one stream. */
export interface VideoSubscription {
  /** New demand; `null` asks for nothing (hidden, off-screen) and the stream pauses. */
  setDemand(d: VideoDemand | null): void;
  /** Ask the sender for an IDR (after a gap, a drop or a decode error). */
  requestKeyframe(): void;
  /** How playback keeps up: the sender lowers the rate before frames queue in the page. */
  report(r: PlaybackReport): void;
  /** Unsubscribe for good. */
  close(): void;
}

export interface VideoSource {
  readonly state: ReadonlySignal<ConnectionState>;
  /** The pictures on offer (refreshed on every reconnect). */
  readonly sources: ReadonlySignal<readonly SourceInfo[]>;
  subscribe(source: string, sink: VideoSink): VideoSubscription;
}

/** A refused or failed write (`code`: validation, engine_offline, timeout, …). */
export { ParamWriteError } from "../../protocol/params_client.ts";

/**
 * The parameter mirror. Values shown in the UI are ALWAYS this mirror's (the engine's echo): a
 * write changes nothing locally; the engine's delta does.
 */
export interface ParamSource {
  readonly state: ReadonlySignal<ConnectionState>;
  readonly engine: ReadonlySignal<EngineStatus>;
  /** The spec: every channel's metadata, in spec order (hidden ones included). */
  readonly channels: ReadonlySignal<readonly ChannelMeta[]>;
  /** The mirrored value of one channel (undefined before the first snapshot or if unknown). */
  value(path: string): ReadonlySignal<ParamValue | undefined>;
  /**
   * Writes one channel. Resolves when the engine applied it (or when a newer write to the same
   * path superseded it before it was sent); rejects with a ParamWriteError (validation, engine
   * offline, link down, timeout). Writes to one path are coalesced: at most one in flight, the
   * newest waiting value goes next.
   */
  write(path: string, value: ParamValue): Promise<void>;
}

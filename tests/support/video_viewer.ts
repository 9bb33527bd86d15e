/**
 * A video viewer without a browser, for tests and benchmarks that need many or misbehaving ones:
 * it speaks smx's /ws/video protocol over RawWs (so its read rate can be throttled), acknowledges
 * every frame as the UI does, and records what arrived.
 */
import {
  unpackVideoFrame,
  type VideoCodec,
  type VideoServerMessage,
} from "../../protocol/video.ts";
import { RawWs } from "./raw_ws.ts";

export interface ArrivedFrame {
  stream: number;
  keyframe: boolean;
  frame: number;
  width: number;
  height: number;
  bytes: number;
  /** Wall-clock ms at arrival. */
  atMs: number;
  /** Arrival − capture, ms (same machine, same clock). */
  ageMs: number;
  /** The encoded picture, when the viewer keeps payloads. */
  payload?: Uint8Array;
}

export interface ViewerOptions {
  readBytesPerSecond?: number;
  /** Acknowledge frames (default true; false = an old or broken page). */
  ack?: boolean;
  /** Keep each frame's payload (default false: long runs would hold every frame). */
  keepPayloads?: boolean;
}

export class VideoViewer {
  private constructor(
    readonly ws: RawWs,
    readonly frames: ArrivedFrame[],
    readonly messages: VideoServerMessage[],
  ) {}

  static async connect(port: number, o: ViewerOptions = {}): Promise<VideoViewer> {
    const frames: ArrivedFrame[] = [];
    const messages: VideoServerMessage[] = [];
    const ws = await RawWs.connect(port, "/ws/video", {
      readBytesPerSecond: o.readBytesPerSecond,
      onText: (t) => messages.push(JSON.parse(t)),
      onBinary: (data) => {
        const { header: h, payload } = unpackVideoFrame(data.slice().buffer);
        const now = Date.now();
        const f: ArrivedFrame = {
          stream: h.stream,
          keyframe: h.keyframe,
          frame: h.frame,
          width: h.width,
          height: h.height,
          bytes: data.length,
          atMs: now,
          ageMs: now - h.captureUs / 1000,
          ...(o.keepPayloads ? { payload } : {}),
        };
        if (o.ack !== false) {
          void ws.sendText(JSON.stringify({ type: "ack", stream: h.stream, frame: h.frame }));
        }
        frames.push(f);
      },
    });
    return new VideoViewer(ws, frames, messages);
  }

  /** Without `codec` the message carries none (smx's default, H.264 Main). */
  subscribe(
    stream: number,
    source: string,
    width: number,
    height: number,
    fps: number,
    codec?: VideoCodec,
  ) {
    return this.ws.sendText(
      JSON.stringify({ type: "subscribe", stream, source, width, height, fps, codec }),
    );
  }

  send(msg: unknown): Promise<void> {
    return this.ws.sendText(JSON.stringify(msg));
  }

  /** Frames of `stream` that arrived after `sinceMs`. */
  framesSince(sinceMs: number, stream?: number): ArrivedFrame[] {
    return this.frames.filter((f) =>
      f.atMs >= sinceMs && (stream === undefined || f.stream === stream)
    );
  }

  subscribed(stream: number): Extract<VideoServerMessage, { type: "subscribed" }>[] {
    return this.messages.filter((m): m is Extract<VideoServerMessage, { type: "subscribed" }> =>
      m.type === "subscribed" && m.stream === stream
    );
  }

  close(): void {
    this.ws.close();
  }
}

/** Nearest-rank quantile (q in 0..1); NaN for no values. */
export function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/**
 * One browser's video socket: its tiles' subscriptions (stream id → shared encode session) and
 * the per-client backpressure rule.
 *
 * Backpressure: a frame is sent only while the socket's send buffer holds less than
 * MAX_BUFFERED_BYTES. Otherwise the frame is dropped, the stream waits for the next keyframe
 * (which it asks the session for) and nothing queues up: a slow client skips ahead and never
 * delays the encoder or other clients, and its delay never grows.
 */
import type { EncodedFrame } from "../../ffi/encoder.ts";
import type { EncodeSessionManager, Subscription } from "../../encoder/manager.ts";
import { UnknownSourceError } from "../../encoder/manager.ts";
import { demandError } from "../../encoder/size_classes.ts";
import {
  packVideoFrame,
  type VideoClientMessage,
  type VideoServerMessage,
} from "../../protocol/video.ts";
import { nowUs } from "../../ffi/lib.ts";

export const MAX_CONTROL_BYTES = 4096;
export const MAX_STREAMS_PER_CLIENT = 32;
/** ~2 frames of 1080p at a generous bitrate: beyond this the client is not keeping up. */
export const MAX_BUFFERED_BYTES = 512 * 1024;

interface Stream {
  sub: Subscription;
  announced: boolean; // "subscribed" (with codec) went out; frames only after it
  needsKeyframe: boolean;
  sent: number;
  dropped: number;
}

export interface VideoClientStats {
  streams: { stream: number; session: string; sent: number; dropped: number }[];
}

export class VideoClient {
  #streams = new Map<number, Stream>();
  #closed = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly sessions: EncodeSessionManager,
    private readonly log: (msg: string) => void = () => {},
  ) {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => this.#onMessage(ev.data);
    socket.onclose = () => this.close();
    socket.onerror = () => this.close();
  }

  stats(): VideoClientStats {
    return {
      streams: [...this.#streams].map(([stream, s]) => ({
        stream,
        session: s.sub.session.id,
        sent: s.sent,
        dropped: s.dropped,
      })),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#streams.values()) s.sub.close();
    this.#streams.clear();
  }

  #send(msg: VideoServerMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      return this.#send({ type: "error", message: "binary messages are not accepted here" });
    }
    if (data.length > MAX_CONTROL_BYTES) {
      return this.#send({
        type: "error",
        message: `control message over ${MAX_CONTROL_BYTES} bytes`,
      });
    }
    let msg: VideoClientMessage;
    try {
      msg = JSON.parse(data);
    } catch {
      return this.#send({ type: "error", message: "control message is not valid JSON" });
    }
    if (!msg || typeof msg !== "object") {
      return this.#send({ type: "error", message: "control message must be a JSON object" });
    }
    const stream = (msg as { stream?: unknown }).stream;
    if (typeof stream !== "number" || !Number.isInteger(stream) || stream < 0 || stream > 65535) {
      return this.#send({ type: "error", message: "stream must be an integer from 0 to 65535" });
    }
    switch (msg.type) {
      case "subscribe":
        return this.#subscribe(msg);
      case "unsubscribe":
        this.#streams.get(stream)?.sub.close();
        this.#streams.delete(stream);
        return;
      case "keyframe": {
        const s = this.#streams.get(stream);
        if (!s) return this.#send({ type: "error", stream, message: "no such stream" });
        s.needsKeyframe = true;
        s.sub.requestKeyframe();
        return;
      }
      default:
        return this.#send({
          type: "error",
          stream,
          message: `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`,
        });
    }
  }

  #subscribe(msg: Extract<VideoClientMessage, { type: "subscribe" }>): void {
    const { stream } = msg;
    const bad = typeof msg.source !== "string" || msg.source.length > 128
      ? "source must be a string of at most 128 characters"
      : demandError(msg);
    if (bad) return this.#send({ type: "error", stream, message: bad });
    const existing = this.#streams.get(stream);
    if (!existing && this.#streams.size >= MAX_STREAMS_PER_CLIENT) {
      return this.#send({
        type: "error",
        stream,
        message: `at most ${MAX_STREAMS_PER_CLIENT} streams per client`,
      });
    }
    const want = { width: msg.width, height: msg.height, fps: msg.fps };
    let sub: Subscription;
    const entry: Stream = {
      sub: undefined!,
      announced: false,
      needsKeyframe: true,
      sent: 0,
      dropped: 0,
    };
    try {
      sub = this.sessions.subscribe(msg.source, want, {
        onFrame: (f) => this.#onFrame(stream, entry, f),
        onState: (state, detail) => {
          if (state === "stopped" && detail) this.#send({ type: "ended", stream, reason: detail });
        },
      });
    } catch (e) {
      const message = e instanceof UnknownSourceError ? e.message : `cannot subscribe: ${e}`;
      return this.#send({ type: "error", stream, message });
    }
    entry.sub = sub;
    // Re-keying a tile (new size or source): attach the new session before dropping the old one,
    // so a shared session is not torn down and restarted in between.
    existing?.sub.close();
    this.#streams.set(stream, entry);
    sub.session.ready.then(() => {
      if (this.#streams.get(stream) !== entry) return; // re-keyed or closed meanwhile
      entry.announced = true;
      if (entry.dropped) sub.requestKeyframe(); // an IDR raced ahead of the announcement
      this.#send({
        type: "subscribed",
        stream,
        source: msg.source,
        ...sub.rendition,
        encoder: sub.session.encoderName,
        codec: sub.session.codec,
      });
    }, (e) => {
      if (this.#streams.get(stream) !== entry) return;
      this.#streams.delete(stream);
      sub.close();
      this.#send({ type: "error", stream, message: `encoder unavailable: ${e.message ?? e}` });
    });
  }

  #onFrame(stream: number, s: Stream, f: EncodedFrame): void {
    if (this.#closed || this.socket.readyState !== WebSocket.OPEN) return;
    if (!s.announced) {
      s.dropped++;
      return;
    }
    if (s.needsKeyframe && !f.keyframe) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      s.dropped++;
      if (!s.needsKeyframe) {
        s.needsKeyframe = true;
        s.sub.requestKeyframe();
      }
      return;
    }
    s.needsKeyframe = false;
    s.sent++;
    this.socket.send(packVideoFrame({
      keyframe: f.keyframe,
      stream,
      frame: f.frame,
      captureUs: f.captureUs,
      sentUs: Number(nowUs()),
      width: f.width,
      height: f.height,
      encodeMs: f.convertMs + f.encodeMs,
    }, f.data));
  }
}

/**
 * VideoSource over smx's `/ws/video`: one socket per page, tiles multiplexed by stream id, every
 * live subscription re-sent after a reconnect. Frames go to their sink synchronously from
 * `onmessage` (no queue, no extra task).
 */
import { computed, type ReadonlySignal } from "@preact/signals";
import {
  DEFAULT_VIDEO_CODEC,
  unpackVideoFrame,
  type VideoClientMessage,
  type VideoServerMessage,
} from "../../../protocol/video.ts";
import type {
  ConnectionState,
  SourceInfo,
  VideoDemand,
  VideoSink,
  VideoSource,
  VideoSubscription,
} from "../types.ts";
import type { HelloClient } from "./hello.ts";
import { ReconnectingSocket } from "./socket.ts";

interface Sub {
  id: number;
  source: string;
  sink: VideoSink;
  demand: VideoDemand | null;
  /** A subscribe for the current demand went out on the current socket. */
  sent: boolean;
  /** Re-subscribe timer after the sender ended or refused the stream. */
  retry: ReturnType<typeof setTimeout> | undefined;
  retries: number;
}

const EMPTY: readonly SourceInfo[] = [];

export class LocalVideoSource implements VideoSource {
  readonly #socket: ReconnectingSocket;
  readonly #subs = new Map<number, Sub>();
  #nextId = 1;
  readonly sources: ReadonlySignal<readonly SourceInfo[]>;

  constructor(url: string, private hello: HelloClient) {
    this.sources = computed(() => hello.hello.value?.sources ?? EMPTY);
    this.#socket = new ReconnectingSocket(url, {
      open: () => {
        void this.hello.refresh();
        for (const s of this.#subs.values()) {
          s.sent = false;
          this.#sync(s);
        }
      },
      message: (ev) => this.#onMessage(ev),
      close: () => {
        for (const s of this.#subs.values()) s.sent = false;
      },
    });
  }

  get state(): ReadonlySignal<ConnectionState> {
    return this.#socket.state;
  }

  /** Closes the socket for good (tests, page teardown). */
  close(): void {
    for (const s of this.#subs.values()) clearTimeout(s.retry);
    this.#subs.clear();
    this.#socket.close();
  }

  subscribe(source: string, sink: VideoSink): VideoSubscription {
    const id = this.#allocId();
    const s: Sub = { id, source, sink, demand: null, sent: false, retry: undefined, retries: 0 };
    this.#subs.set(id, s);
    return {
      setDemand: (want) => {
        const d: VideoDemand | null = want && {
          width: Math.max(1, Math.round(want.width)),
          height: Math.max(1, Math.round(want.height)),
          fps: Math.max(1, Math.round(want.fps)),
          codec: want.codec ?? DEFAULT_VIDEO_CODEC,
        };
        const same = d && s.demand && d.width === s.demand.width &&
          d.height === s.demand.height && d.fps === s.demand.fps && d.codec === s.demand.codec;
        if (same || (!d && !s.demand)) return;
        const wasLive = s.demand !== null && s.sent;
        s.demand = d ? { ...d } : null;
        s.sent = false;
        if (!d) {
          if (wasLive) this.#send({ type: "unsubscribe", stream: id });
          return;
        }
        this.#sync(s);
      },
      requestKeyframe: () => {
        if (s.demand && s.sent) this.#send({ type: "keyframe", stream: id });
      },
      report: (r) => {
        if (s.demand && s.sent) this.#send({ type: "report", stream: id, ...r });
      },
      close: () => {
        clearTimeout(s.retry);
        if (!this.#subs.delete(id)) return;
        if (s.demand && s.sent) this.#send({ type: "unsubscribe", stream: id });
      },
    };
  }

  #allocId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = (this.#nextId % 65535) + 1;
      if (!this.#subs.has(id)) return id;
    }
    throw new Error("no free video stream id");
  }

  #send(m: VideoClientMessage): boolean {
    return this.#socket.send(JSON.stringify(m));
  }

  #sync(s: Sub): void {
    if (!s.demand || s.sent) return;
    const { width, height, fps, codec } = s.demand;
    s.sent = this.#send({
      type: "subscribe",
      stream: s.id,
      source: s.source,
      width,
      height,
      fps,
      codec,
    });
  }

  #retryLater(s: Sub): void {
    clearTimeout(s.retry);
    s.sent = false;
    const delay = Math.min(5000, 500 * 2 ** Math.min(s.retries++, 4));
    s.retry = setTimeout(() => {
      if (this.#subs.get(s.id) === s) this.#sync(s);
    }, delay);
  }

  #onMessage(ev: MessageEvent): void {
    const d = ev.data;
    if (d instanceof ArrayBuffer) {
      let f;
      try {
        f = unpackVideoFrame(d);
      } catch {
        return; // foreign or truncated: nothing to decode
      }
      const h = f.header;
      // Acknowledge at once, before any work: smx bounds each viewer's delay by these, so an ack
      // must mean "arrived", never "decoded" (and a let-go stream's frames are acked too).
      this.#send({ type: "ack", stream: h.stream, frame: h.frame });
      const s = this.#subs.get(h.stream);
      if (!s || !s.demand) return; // a late frame of a stream we let go
      s.retries = 0;
      s.sink.frame({
        keyframe: h.keyframe,
        frame: h.frame,
        captureUs: h.captureUs,
        sentUs: h.sentUs,
        width: h.width,
        height: h.height,
        encodeMs: h.encodeMs,
        receivedMs: performance.timeOrigin + performance.now(),
        data: f.payload,
      });
      return;
    }
    if (typeof d !== "string") return;
    let m: VideoServerMessage;
    try {
      m = JSON.parse(d);
    } catch {
      return;
    }
    const s = typeof m.stream === "number" ? this.#subs.get(m.stream) : undefined;
    switch (m.type) {
      case "subscribed":
        if (s && s.demand) {
          s.sink.info({
            source: m.source,
            width: m.width,
            height: m.height,
            fps: m.fps,
            encoder: m.encoder,
            format: m.format ?? DEFAULT_VIDEO_CODEC,
            codec: m.codec,
            ...(m.limited ? { limited: m.limited } : {}),
          });
        }
        return;
      case "ended":
      case "error":
        if (s) {
          // The stream stopped or was refused (engine gone, unknown source, encoder unavailable):
          // say so on the tile and ask again later; a frame resets the retry count.
          s.sink.ended?.(m.type === "ended" ? m.reason : m.message);
          this.#retryLater(s);
        } else if (m.type === "error") console.warn("smx video:", m.message);
        return;
    }
  }
}

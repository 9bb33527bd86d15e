/**
 * The WAN receiver's worker: takes each encoded H.264 frame of a LiveKit track off the
 * RTCRtpReceiver (RTCRtpScriptTransform's `rtctransform` event, or the streams of the
 * createEncodedStreams fallback), reads its facts (IDR, SPS, smx's timing SEI: encoded.ts), and
 * posts a copy to the page, whose VideoSource hands it to the tile's decode pipeline as an
 * EncodedFrame. Frames are then passed on to WebRTC (see TransformOptions.passThrough).
 *
 * Built by ui/build.ts as /assets/wan-receive-worker.js, one file with no imports.
 */
import { inspectAccessUnit } from "./encoded.ts";
import type { FromWorker, ToWorker, TransformOptions } from "./receive_protocol.ts";

interface EncodedFrameLike {
  data: ArrayBuffer;
  type?: string;
}

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
};

interface Transformer {
  readable: ReadableStream<EncodedFrameLike>;
  writable: WritableStream<EncodedFrameLike>;
  options: TransformOptions;
}

const stopped = new Set<number>();

async function pump(
  readable: ReadableStream<EncodedFrameLike>,
  writable: WritableStream<EncodedFrameLike>,
  o: TransformOptions,
  via: "script-transform" | "encoded-streams",
): Promise<void> {
  stopped.delete(o.feed);
  scope.postMessage({ type: "started", feed: o.feed, via });
  const reader = readable.getReader();
  const writer = writable.getWriter();
  try {
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done || stopped.has(o.feed)) break;
      const atMs = performance.timeOrigin + performance.now();
      if (frame.data.byteLength > 0) {
        const data = frame.data.slice(0);
        let facts;
        try {
          facts = inspectAccessUnit(new Uint8Array(data));
        } catch {
          facts = { keyframe: frame.type === "key", format: null, timing: null };
        }
        scope.postMessage({
          type: "frame",
          feed: o.feed,
          data,
          keyframe: facts.keyframe || frame.type === "key",
          format: facts.format,
          timing: facts.timing,
          atMs,
        }, [data]);
      }
      if (o.passThrough) await writer.write(frame);
    }
  } catch (e) {
    scope.postMessage({ type: "error", feed: o.feed, message: String((e as Error)?.message ?? e) });
  } finally {
    reader.releaseLock();
    writer.releaseLock();
  }
}

// The event, not the onrtctransform attribute: every engine that has the API dispatches it.
(self as unknown as EventTarget).addEventListener("rtctransform", (ev) => {
  const t = (ev as Event & { transformer: Transformer }).transformer;
  void pump(t.readable, t.writable, t.options, "script-transform");
});

scope.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "streams") void pump(m.readable, m.writable, m.options, "encoded-streams");
  else if (m.type === "close") stopped.add(m.feed);
};

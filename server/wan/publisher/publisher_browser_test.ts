/**
 * The real check of what WanPublisher sends: headless Chromium joins the engine's LiveKit room
 * with livekit-client (a subscribe-only, hidden viewer token), subscribes to the rendition's
 * track by its participant identity, and reads every encoded frame off the RTCRtpReceiver
 * (RTCRtpScriptTransform) before it is decoded: the frame timing SEI must be in each one, frame
 * numbers must advance, and the video must decode at the rendition's size. LiveKit's PLI for the
 * new subscriber must reach the publisher (stats.plis) and be answered with an IDR.
 *
 * Prints the delay from the engine's capture to the encoded frame reaching the page, and to the
 * frame being presented (requestVideoFrameCallback), on loopback through LiveKit.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { AccessToken } from "livekit-server-sdk";
import { EncodeSessionManager } from "../../../encoder/manager.ts";
import { DEFAULT_OUTPUTS, senderInfos } from "../../../demo/outputs.ts";
import { type PublishedRendition, publisherIdentity, roomOf } from "../../../protocol/wan.ts";
import { SourceCatalog } from "../../sources.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { tempEngineDir } from "../../../tests/support/processes.ts";
import { startLiveKit } from "../../../tests/support/livekit.ts";
import { launchChromium } from "../../../tests/support/browser.ts";
import { WanPublisher } from "./publisher.ts";

const FRAME_SEI = fileURLToPath(new URL("../../../protocol/frame_sei.ts", import.meta.url));

/**
 * The page: joins the room, and takes every encoded video frame off its receiver before it is
 * decoded (reading the SEI), then lets it go on to the decoder; presentation times come from
 * requestVideoFrameCallback. Everything lands in window.r.
 *
 * The frames are taken with an RTCRtpScriptTransform installed when livekit-client creates the
 * video transceiver (RTCPeerConnection.prototype.addTransceiver), not at the "track" event or on
 * TrackSubscribed. Found here (Chromium 156, livekit-client 2.23): on the receiver of a
 * transceiver created locally before negotiation (recvonly, as livekit-client does), a transform
 * set once the track arrived gets its \`rtctransform\` event but never a frame, and the video
 * decodes past it; the same transform on an answerer's receiver, or set right after
 * addTransceiver, works. (livekit-client also sets \`receiver.transform = null\` on subscribed video
 * tracks without packet-trailer features when its frame-metadata worker runs:
 * FrameMetadataManager.setupPassthroughReceiver.)
 */
const PAGE_SRC = `
import { Room, RoomEvent } from "livekit-client";
import { readFrameSei } from ${JSON.stringify(FRAME_SEI)};
const q = new URLSearchParams(location.search);
const r = window.r = { frames: [], presented: [], errors: [], width: 0, height: 0, state: "" };
const WORKER = URL.createObjectURL(new Blob([\`
  self.onrtctransform = (ev) => {
    const { readable, writable } = ev.transformer;
    readable.pipeThrough(new TransformStream({ transform(frame, ctl) {
      const data = frame.data.slice(0);
      self.postMessage({ atUs: (performance.timeOrigin + performance.now()) * 1000, type: frame.type,
        rtp: frame.getMetadata().rtpTimestamp, data }, [data]);
      ctl.enqueue(frame);
    } })).pipeTo(writable);
  };\`], { type: "text/javascript" }));
const addTransceiver = RTCPeerConnection.prototype.addTransceiver;
RTCPeerConnection.prototype.addTransceiver = function (kind, init) {
  const t = addTransceiver.call(this, kind, init);
  const isVideo = kind === "video" || kind?.kind === "video";
  if (isVideo && (init?.direction ?? "sendrecv") !== "sendonly") {
    const w = new Worker(WORKER);
    w.onmessage = (e) => {
      const { data, ...f } = e.data;
      r.frames.push({ ...f, bytes: data.byteLength, t: readFrameSei(new Uint8Array(data)) });
    };
    t.receiver.transform = new RTCRtpScriptTransform(w, {});
  }
  return t;
};
const room = new Room({ adaptiveStream: false, dynacast: false });
room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
  if (participant.identity !== q.get("identity") || track.kind !== "video") return;
  r.state = "subscribed";
  // As the WAN UI does: no added jitter buffer delay (the figure printed is then comparable).
  track.receiver.jitterBufferTarget = 0;
  const el = track.attach();
  el.muted = true;
  document.body.append(el);
  const onFrame = (_now, m) => {
    r.width = m.width;
    r.height = m.height;
    r.presented.push({ rtp: m.rtpTimestamp,
      atUs: (performance.timeOrigin + m.expectedDisplayTime) * 1000 });
    el.requestVideoFrameCallback(onFrame);
  };
  el.requestVideoFrameCallback(onFrame);
  el.play().catch((e) => r.errors.push(String(e)));
});
room.connect(q.get("url"), q.get("token"), { autoSubscribe: true })
  .then(() => r.state ||= "connected", (e) => r.errors.push(String(e)));
`;

async function bundle(contents: string, name: string): Promise<string> {
  const out = await esbuild.build({
    stdin: {
      contents,
      resolveDir: fileURLToPath(new URL(".", import.meta.url)),
      loader: "js",
      sourcefile: name,
    },
    bundle: true,
    format: "esm",
    write: false,
    platform: "browser",
    target: "es2022",
    nodePaths: [fileURLToPath(new URL("../../../node_modules", import.meta.url))],
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

interface PageResults {
  frames: {
    atUs: number;
    type: string;
    rtp: number;
    bytes: number;
    t: { frame: number; captureUs: number; sentUs: number; encodeMs: number } | null;
  }[];
  presented: { rtp: number; atUs: number }[];
  errors: string[];
  width: number;
  height: number;
  state: string;
}

Deno.test({
  name: "Chromium with livekit-client receives the published track with smx's timing SEI",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const page = await bundle(PAGE_SRC, "page.js");
    await esbuild.stop();
    const livekit = await startLiveKit();
    const dir = tempEngineDir();
    const engine = await startDemoEngine({
      name: `wanbr-${Deno.pid}`,
      portDir: dir,
      outputs: true,
    });
    const catalog = new SourceCatalog();
    catalog.setEngineSenders(senderInfos(DEFAULT_OUTPUTS, engine.name, engine.pid));
    const sessions = new EncodeSessionManager({
      resolveSource: (id) => catalog.resolve(id),
      encoderPreference: ["libx264"],
    });
    const engineId = `wanbr${Deno.pid}`;
    const logs: string[] = [];
    const pub = new WanPublisher({
      engine: engineId,
      livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      sessions,
      ice: { bindAddress: "127.0.0.1", extraHostAddresses: ["127.0.0.1"], ipv6: false },
      log: (l, m) => logs.push(`${l}: ${m}`),
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const p = new URL(req.url).pathname;
      const js = (s: string) =>
        new Response(s, { headers: { "content-type": "text/javascript; charset=utf-8" } });
      if (p === "/page.js") return js(page);
      return new Response(`<!doctype html><body><script type="module" src="/page.js"></script>`, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    });
    const browser = await launchChromium();
    try {
      const r: PublishedRendition = { source: "main", width: 640, height: 360, fps: 30 };
      const identity = publisherIdentity(r);
      pub.setWanted([r]);
      await waitFor(
        () => pub.stats()[0]?.state === "publishing",
        "publishing",
        20_000,
      );
      const at = new AccessToken(livekit.apiKey, livekit.apiSecret, {
        identity: "viewer-1",
        ttl: 600,
      });
      at.addGrant({
        roomJoin: true,
        room: roomOf(engineId),
        canSubscribe: true,
        canPublish: false,
        canPublishData: false,
        hidden: true,
      });
      const plisBefore = pub.stats()[0].plis;
      const keysBefore = pub.stats()[0].keyframes;
      const tab = await browser.newPage();
      tab.on("console", (m) => logs.push(`page: ${m.text()}`));
      const q = new URLSearchParams({ url: livekit.url, token: await at.toJwt(), identity });
      await tab.goto(`http://127.0.0.1:${server.addr.port}/?${q}`);
      const results = () => tab.evaluate(() => (window as unknown as { r: PageResults }).r);
      await waitFor(
        async () => {
          const res = await results();
          return res.presented.length >= 60 && res.frames.length >= 60;
        },
        "60 frames through the transform and presented in Chromium",
        30_000,
      ).catch(async (e) => {
        const res = await results();
        throw new Error(
          `${e.message}: state ${res.state}, ${res.frames.length} encoded frames, ` +
            `${res.presented.length} presented, errors ` +
            `${JSON.stringify(res.errors)}\n${logs.slice(-30).join("\n")}`,
        );
      });
      // The figures come from a steady stretch after start-up.
      const from = await results();
      await new Promise((r) => setTimeout(r, 4000));
      const res = await results();
      const st = pub.stats()[0];
      const steady = res.frames.slice(from.frames.length);
      const steadyShown = res.presented.slice(from.presented.length);
      const withSei = res.frames.filter((f) => f.t);
      const delays = steady.filter((f) => f.t).map((f) => (f.atUs - f.t!.captureUs) / 1000);
      const captureByRtp = new Map(
        res.frames.filter((f) => f.t).map((f) => [f.rtp, f.t!.captureUs]),
      );
      const shown = steadyShown.flatMap((p) => {
        const c = captureByRtp.get(p.rtp);
        return c === undefined ? [] : [(p.atUs - c) / 1000];
      });
      console.log(
        `Chromium: ${res.frames.length} encoded frames (${withSei.length} with the SEI), ` +
          `${res.presented.length} presented at ${res.width}x${res.height}; capture → encoded ` +
          `frame in the page p50 ${quantile(delays, 0.5).toFixed(1)} ms, p95 ${
            quantile(delays, 0.95).toFixed(1)
          } ms (of which capture → sent by smx p50 ${
            quantile(
              steady.filter((f) => f.t).map((f) => (f.t!.sentUs - f.t!.captureUs) / 1000),
              0.5,
            )
              .toFixed(1)
          } ms); capture → presented p50 ${quantile(shown, 0.5).toFixed(1)} ms, p95 ${
            quantile(shown, 0.95).toFixed(1)
          } ms; publisher ${JSON.stringify(st)}`,
      );
      assert.deepEqual(res.errors, []);
      assert.equal(withSei.length, res.frames.length, "every encoded frame carries the SEI");
      const nums = withSei.map((f) => f.t!.frame);
      for (let i = 1; i < nums.length; i++) assert.ok(nums[i] > nums[i - 1], "frames advance");
      assert.equal(res.frames[0].type, "key", "the page's first frame is a keyframe");
      assert.deepEqual([res.width, res.height], [640, 360], "decoded at the rendition's size");
      assert.ok(st.plis > plisBefore, `LiveKit's PLI for the new viewer reached us (${st.plis})`);
      assert.ok(st.keyframes > keysBefore, "and was answered with an IDR");
      assert.ok(quantile(delays, 0.5) < 1000, "capture times are this machine's clock");
    } finally {
      await browser.close();
      await pub.close();
      await sessions.close();
      await server.shutdown();
      await engine.kill();
      await livekit.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

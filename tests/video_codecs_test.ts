/**
 * The codec a page asks for, against the real stack (demo engine rendering 1280x720@60, smx,
 * libx264 and libjpeg-turbo) over /ws/video: "jpeg" streams are standalone JPEGs that a joiner
 * gets at once, "h264-baseline" streams are Constrained Baseline, no codec means H.264 Main, each
 * codec is its own shared session, and an unknown codec is refused with a clear message.
 */
import assert from "node:assert/strict";
import { type Proc, startMainTs, tempEngineDir } from "./support/processes.ts";
import { type DemoProc, startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { VideoViewer } from "./support/video_viewer.ts";
import { MIN_IDR_INTERVAL_MS } from "../encoder/session.ts";

/** Width and height from a JPEG's baseline SOF0 segment; throws when it has none. */
function jpegSize(jpeg: Uint8Array): { width: number; height: number } {
  let i = 2; // after SOI
  while (i + 9 < jpeg.length && jpeg[i] === 0xff) {
    const marker = jpeg[i + 1];
    const len = (jpeg[i + 2] << 8) | jpeg[i + 3];
    if (marker === 0xc0) {
      return { height: (jpeg[i + 5] << 8) | jpeg[i + 6], width: (jpeg[i + 7] << 8) | jpeg[i + 8] };
    }
    i += 2 + len;
  }
  throw new Error("no baseline SOF0 segment");
}

/** The SPS's profile_idc of an Annex-B access unit (66 Baseline, 77 Main); -1 without an SPS. */
function spsProfile(au: Uint8Array): number {
  for (let i = 0; i + 4 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1 && (au[i + 3] & 0x1f) === 7) {
      return au[i + 4];
    }
  }
  return -1;
}

Deno.test({
  name: "codecs over /ws/video: JPEG, Constrained Baseline, the default, a refused name",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = tempEngineDir();
    let engine: DemoProc | undefined;
    let smx: Proc | undefined;
    let v: VideoViewer | undefined;
    try {
      engine = await startDemoEngine({ name: `codecs-${Deno.pid}`, portDir: dir, outputs: true });
      smx = await startMainTs(["start", "--port", "0", "--no-demo"], {
        env: { SMX_ENGINE_DIR: dir, SMX_ENCODERS: "libx264" },
      });
      const viewer = v = await VideoViewer.connect(smx.port, { keepPayloads: true });
      await waitFor(async () => {
        const hello = await (await fetch(`${smx!.url}/hello`)).json();
        return hello.sources.some((s: { id: string }) => s.id === "main");
      }, "the engine's main source");

      await viewer.subscribe(1, "main", 640, 360, 30, "jpeg");
      await viewer.subscribe(2, "main", 640, 360, 30, "h264-baseline");
      await viewer.subscribe(3, "main", 640, 360, 30); // no codec: H.264 Main
      await viewer.send({
        type: "subscribe",
        stream: 4,
        source: "main",
        width: 640,
        height: 360,
        fps: 30,
        codec: "vp9",
      });
      const of = (stream: number) => viewer.frames.filter((f) => f.stream === stream);
      await waitFor(() => [1, 2, 3].every((s) => of(s).length >= 3), "frames on streams 1-3");

      assert.deepEqual(viewer.messages.find((m) => m.type === "error" && m.stream === 4), {
        type: "error",
        stream: 4,
        message: "codec must be one of h264, h264-baseline, jpeg",
      });
      assert.equal(of(4).length, 0);

      const [jpegSub] = viewer.subscribed(1), [baseSub] = viewer.subscribed(2);
      const [mainSub] = viewer.subscribed(3);
      assert.deepEqual(
        [jpegSub.format, jpegSub.codec, jpegSub.encoder],
        ["jpeg", "jpeg", "libjpeg-turbo"],
      );
      assert.equal(baseSub.format, "h264-baseline");
      assert.match(baseSub.codec, /^avc1\.42c0[0-9a-f]{2}$/);
      assert.equal(mainSub.format, "h264");
      assert.match(mainSub.codec, /^avc1\.4d/);

      for (const f of of(1)) {
        const p = f.payload!;
        assert.ok(f.keyframe, "every JPEG frame is flagged a keyframe");
        assert.deepEqual([p[0], p[1], p.at(-2), p.at(-1)], [0xff, 0xd8, 0xff, 0xd9], "SOI…EOI");
        assert.deepEqual(jpegSize(p), { width: 640, height: 360 });
        assert.deepEqual([f.width, f.height], [640, 360]);
      }
      const firstBase = of(2)[0];
      assert.ok(firstBase.keyframe);
      assert.equal(spsProfile(firstBase.payload!), 66, "SPS profile_idc: Baseline");
      assert.equal(spsProfile(of(3)[0].payload!), 77, "SPS profile_idc: Main");

      // Joiners of the running JPEG session, back to back: H.264 would ration them to one IDR
      // per MIN_IDR_INTERVAL_MS; each JPEG joiner's first frame is simply the next one.
      for (const stream of [5, 6, 7]) {
        const t0 = Date.now();
        await viewer.subscribe(stream, "main", 640, 360, 30, "jpeg");
        await waitFor(() => of(stream).length > 0, `stream ${stream}'s first frame`);
        const took = of(stream)[0].atMs - t0;
        const bound = MIN_IDR_INTERVAL_MS / 2;
        assert.ok(took < bound, `stream ${stream}: first JPEG frame after ${took} ms (< ${bound})`);
      }

      const stats = await (await fetch(`${smx.url}/api/stats`)).json() as {
        sessions: { id: string; codec: string; subscribers: number }[];
      };
      const byId = new Map(stats.sessions.map((s) => [s.id, s]));
      assert.equal(byId.get("main@640x360@30/jpeg")?.subscribers, 4, "JPEG viewers share one");
      assert.equal(byId.get("main@640x360@30/baseline")?.codec, "h264-baseline");
      assert.equal(byId.get("main@640x360@30")?.codec, "h264");
      assert.equal(stats.sessions.length, 3);

      // A re-subscribe in another codec moves the stream to that codec's session.
      const n = of(2).length;
      await viewer.subscribe(2, "main", 640, 360, 30, "jpeg");
      await waitFor(() => viewer.subscribed(2).length === 2, "stream 2 re-announced");
      assert.equal(viewer.subscribed(2)[1].format, "jpeg");
      await waitFor(() => of(2).slice(n).some((f) => f.payload![0] === 0xff), "a JPEG on 2");
    } finally {
      v?.close();
      await smx?.kill();
      await engine?.kill();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

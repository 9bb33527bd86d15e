/**
 * WanPublisher against the real servers: livekit-server (pinned, cached by
 * scripts/wan_servers.sh, loopback-only test config) and the demo engine rendering its outputs,
 * encoded by an in-process EncodeSessionManager (libx264) as smx's own is. What the room shows is
 * read with livekit-server-sdk's RoomServiceClient, as an operator would.
 *
 * Fails loudly when livekit-server is not built (run `bash scripts/wan_servers.sh`).
 */
import assert from "node:assert/strict";
import process from "node:process";
import { RoomServiceClient, TrackType } from "livekit-server-sdk";
import { EncodeSessionManager } from "../../../encoder/manager.ts";
import type { EncodedFrame } from "../../../ffi/encoder.ts";
import { DEFAULT_OUTPUTS, senderInfos } from "../../../demo/outputs.ts";
import { type PublishedRendition, publisherIdentity, roomOf } from "../../../protocol/wan.ts";
import { SourceCatalog } from "../../sources.ts";
import { type DemoProc, startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { tempEngineDir } from "../../../tests/support/processes.ts";
import {
  listeningAddresses,
  type LiveKitServer,
  startLiveKit,
} from "../../../tests/support/livekit.ts";
import { WanPublisher } from "./publisher.ts";
import { RTCP_SILENCE_MS } from "./whip_session.ts";
import type { RenditionStats } from "./rendition_publisher.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** ICE on loopback only (the test machine's other addresses must not be used or listened on). */
const LOOPBACK_ICE = { bindAddress: "127.0.0.1", extraHostAddresses: ["127.0.0.1"], ipv6: false };
const UNPUBLISH_AFTER_MS = 1500;

interface Stack {
  dir: string;
  engine: DemoProc;
  livekit: LiveKitServer;
  sessions: EncodeSessionManager;
  catalog: SourceCatalog;
  rooms: RoomServiceClient;
  engineId: string;
}

async function startStack(): Promise<Stack> {
  const livekit = await startLiveKit();
  const dir = tempEngineDir();
  let engine: DemoProc | undefined;
  try {
    engine = await startDemoEngine({ name: `wanpub-${Deno.pid}`, portDir: dir, outputs: true });
    assert.equal(engine.outputsError, null, "the demo engine renders its outputs");
    const catalog = new SourceCatalog();
    catalog.setEngineSenders(senderInfos(DEFAULT_OUTPUTS, engine.name, engine.pid));
    const sessions = new EncodeSessionManager({
      resolveSource: (id) => catalog.resolve(id),
      encoderPreference: ["libx264"],
    });
    return {
      dir,
      engine,
      livekit,
      sessions,
      catalog,
      rooms: new RoomServiceClient(livekit.httpUrl, livekit.apiKey, livekit.apiSecret),
      engineId: `wanpub${Deno.pid}`,
    };
  } catch (e) {
    await engine?.kill();
    await livekit.stop();
    throw e;
  }
}

function newPublisher(s: Stack, logs: string[], over: { apiSecret?: string } = {}) {
  return new WanPublisher({
    engine: s.engineId,
    livekit: {
      url: s.livekit.url, // ws://: the publisher derives the HTTP base itself
      apiKey: s.livekit.apiKey,
      apiSecret: over.apiSecret ?? s.livekit.apiSecret,
    },
    sessions: s.sessions,
    unpublishAfterMs: UNPUBLISH_AFTER_MS,
    ice: LOOPBACK_ICE,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
}

/** The room's participants with their published video tracks ([] when the room does not exist). */
async function participants(s: Stack) {
  try {
    const ps = await s.rooms.listParticipants(roomOf(s.engineId));
    return ps.map((p) => ({
      identity: p.identity,
      sid: p.sid,
      videoTracks: p.tracks.filter((t) => t.type === TrackType.VIDEO).length,
    }));
  } catch (e) {
    if (/not.?found|does not exist/i.test(String((e as Error).message))) return [];
    throw e;
  }
}

function statsOf(p: WanPublisher, identity: string): RenditionStats | undefined {
  return p.stats().find((x) => x.identity === identity);
}

const R: PublishedRendition = { source: "main", width: 640, height: 360, fps: 30 };
const ID = publisherIdentity(R);

Deno.test({
  name: "WanPublisher publishes wanted renditions into the engine's LiveKit room",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const s = await startStack();
    const logs: string[] = [];
    const pub = newPublisher(s, logs);
    try {
      const udpSockets = () => listeningAddresses(Deno.pid).filter((a) => a.startsWith("udp"));
      const udpBefore = udpSockets().length;

      await t.step("a wanted rendition becomes a participant with a video track", async () => {
        const t0 = performance.now();
        pub.setWanted([R]);
        await waitFor(
          async () => {
            const p = (await participants(s)).find((x) => x.identity === ID);
            return (p?.videoTracks ?? 0) > 0;
          },
          `participant ${ID} with a video track in ${roomOf(s.engineId)}`,
          20_000,
        );
        const took = performance.now() - t0;
        const before = statsOf(pub, ID)!;
        await sleep(2000);
        const st = statsOf(pub, ID)!;
        const fps = (st.framesSent - before.framesSent) / 2;
        console.log(
          `published in ${took.toFixed(0)} ms; ${fps.toFixed(1)} fps, ` +
            `${Math.round((st.bytesSent - before.bytesSent) * 8 / 2 / 1000)} kbit/s; ` +
            JSON.stringify(st),
        );
        assert.equal(st.state, "publishing");
        assert.ok(st.keyframes >= 1, "it started with a keyframe");
        assert.ok(fps >= 20, `frames flow at about the rendition's rate (${fps} fps)`);
        assert.equal(st.lastError, undefined);
      });

      await t.step("nothing listens on a non-loopback address", () => {
        for (
          const [who, pid] of [["livekit-server", s.livekit.pid()], ["smx", Deno.pid]] as const
        ) {
          const addrs = listeningAddresses(pid);
          const open = addrs.filter((a) => !/ (127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(a));
          assert.deepEqual(open, [], `${who} listens only on loopback (${addrs.join(", ")})`);
        }
      });

      await t.step("a page's keyframe request brings an IDR, rate-limited", async () => {
        // Nobody subscribes in LiveKit here, so no PLI: every IDR now is one we asked for.
        await sleep(400); // past the session's MIN_IDR_INTERVAL_MS since the last one
        const k0 = statsOf(pub, ID)!.keyframes;
        pub.requestKeyframe(ID);
        await waitFor(() => statsOf(pub, ID)!.keyframes > k0, "an IDR after the request", 3000);
        // A flood: the bucket (burst 3, 1/s) and the session's interval keep IDRs rare.
        const k1 = statsOf(pub, ID)!.keyframes;
        for (let i = 0; i < 50; i++) {
          pub.requestKeyframe(ID);
          await sleep(20);
        }
        await sleep(300);
        const flood = statsOf(pub, ID)!.keyframes - k1;
        console.log(`50 keyframe requests in 1 s → ${flood} IDRs`);
        assert.ok(flood <= 4, `IDRs bounded under a request flood (${flood})`);
        pub.requestKeyframe("smx/unknown@1x1@1"); // not published: ignored
      });

      await t.step("a local viewer of the same rendition shares the encode", async () => {
        const frames: EncodedFrame[] = [];
        const sub = s.sessions.subscribe(
          "main",
          R,
          { onFrame: (f) => frames.push(f) },
          "h264-baseline",
        );
        try {
          await waitFor(() => frames.length > 5, "frames for the local viewer");
          const mine = s.sessions.stats().filter((x) => x.source === "main");
          assert.equal(mine.length, 1, "one encode session for the rendition");
          assert.equal(mine[0].subscribers, 2, "the WHIP publisher and the local viewer");
        } finally {
          sub.close();
        }
      });

      await t.step("the publish cost per stream (1280x720@30)", async () => {
        // Encode alone (a local viewer), then the same encode also published: the difference is
        // what WHIP (SEI, RTP, SRTP, pacing, werift) costs this process.
        const big: PublishedRendition = { source: "main", width: 1280, height: 720, fps: 30 };
        const sub = s.sessions.subscribe("main", big, { onFrame: () => {} }, "h264-baseline");
        try {
          await sleep(1500);
          const cpu = async (ms: number) => {
            const a = process.cpuUsage(), t0 = performance.now();
            await sleep(ms);
            const d = process.cpuUsage(a);
            return (d.user + d.system) / 1000 / (performance.now() - t0);
          };
          const encodeOnly = await cpu(4000);
          pub.setWanted([R, big]);
          await waitFor(
            () => statsOf(pub, publisherIdentity(big))?.state === "publishing",
            "the 720p rendition publishing",
            20_000,
          );
          await sleep(1000);
          const f0 = statsOf(pub, publisherIdentity(big))!;
          const both = await cpu(4000);
          const f1 = statsOf(pub, publisherIdentity(big))!;
          const kbps = (f1.bytesSent - f0.bytesSent) * 8 / 4 / 1000;
          console.log(
            `CPU of this process: encode 720p30 only ${
              (encodeOnly * 100).toFixed(1)
            } % of a core; ` +
              `encode + WHIP publish ${(both * 100).toFixed(1)} % (${kbps.toFixed(0)} kbit/s, ` +
              `${((f1.framesSent - f0.framesSent) / 4).toFixed(1)} fps); publish cost ≈ ${
                ((both - encodeOnly) * 100).toFixed(1)
              } % of a core (the 360p stream keeps running in both)`,
          );
        } finally {
          sub.close();
          pub.setWanted([R]);
        }
      });

      await t.step("a rendition wanted again within the grace period stays published", async () => {
        await waitFor(() => pub.stats().length === 1, "the 720p rendition unpublished", 10_000);
        const sid = (await participants(s)).find((x) => x.identity === ID)!.sid;
        pub.setWanted([]);
        await sleep(UNPUBLISH_AFTER_MS / 2);
        pub.setWanted([R]);
        await sleep(UNPUBLISH_AFTER_MS + 500);
        const p = (await participants(s)).find((x) => x.identity === ID);
        assert.equal(p?.sid, sid, "the same participant: never unpublished");
        assert.equal(statsOf(pub, ID)?.reconnects, 0);
      });

      await t.step(
        "a rendition no longer wanted is unpublished after unpublishAfterMs",
        async () => {
          const t0 = performance.now();
          pub.setWanted([]);
          await sleep(UNPUBLISH_AFTER_MS * 0.6);
          assert.ok(
            (await participants(s)).some((x) => x.identity === ID),
            "still published during the grace period",
          );
          await waitFor(
            async () => !(await participants(s)).some((x) => x.identity === ID),
            "the participant gone",
            UNPUBLISH_AFTER_MS + 5000,
          );
          const took = performance.now() - t0;
          console.log(`unpublished ${took.toFixed(0)} ms after leaving the list`);
          assert.ok(took >= UNPUBLISH_AFTER_MS, `not before unpublishAfterMs (${took.toFixed(0)})`);
          assert.equal(pub.stats().length, 0);
          assert.equal(s.sessions.size, 0, "its encode session stopped (no viewer left)");
        },
      );

      await t.step("a LiveKit restart is survived and republished by itself", async () => {
        pub.setWanted([R]);
        await waitFor(
          async () => (await participants(s)).some((x) => x.identity === ID && x.videoTracks > 0),
          "published before the restart",
          20_000,
        );
        const stunBefore = s.livekit.stun.requests();
        const t0 = performance.now();
        await s.livekit.restart();
        const up = performance.now();
        await waitFor(
          async () => (await participants(s)).some((x) => x.identity === ID && x.videoTracks > 0),
          "republished after the restart",
          30_000,
        );
        const back = performance.now();
        const before = statsOf(pub, ID)!;
        await sleep(1500);
        const st = statsOf(pub, ID)!;
        console.log(
          `LiveKit restart: down ${(up - t0).toFixed(0)} ms, republished ${
            (back - up).toFixed(0)
          } ms after it was back; ${JSON.stringify(st)}; STUN requests to the Link server: ${
            s.livekit.stun.requests() - stunBefore
          }`,
        );
        assert.equal(st.state, "publishing");
        assert.ok(st.reconnects >= 1, "counted as a reconnect");
        assert.ok(st.framesSent > before.framesSent + 20, "frames flow again");
        assert.ok(
          s.livekit.stun.requests() > stunBefore,
          "the reconnect used the ICE server LiveKit named in its Link header",
        );
      });

      await t.step("a silent SFU (network loss) is noticed and the session replaced", async () => {
        // SIGSTOP freezes LiveKit: no DTLS close, no ICE failure for werift's 30 s consent
        // timeout; only the RTCP watchdog can tell.
        const pid = s.livekit.pid();
        const t0 = performance.now();
        Deno.kill(pid, "SIGSTOP");
        try {
          await waitFor(() => statsOf(pub, ID)?.state === "retrying", "retrying", 15_000);
        } finally {
          Deno.kill(pid, "SIGCONT");
        }
        const noticed = performance.now() - t0;
        const reconnects = statsOf(pub, ID)!.reconnects;
        await waitFor(
          () =>
            statsOf(pub, ID)?.state === "publishing" && statsOf(pub, ID)!.reconnects > reconnects,
          "publishing again",
          30_000,
        );
        const back = performance.now() - t0;
        const f0 = statsOf(pub, ID)!.framesSent;
        await sleep(1000);
        const st = statsOf(pub, ID)!;
        console.log(
          `frozen SFU noticed after ${noticed.toFixed(0)} ms (${
            st.lastError ?? "no error kept"
          }); ` +
            `publishing again ${back.toFixed(0)} ms after the freeze began`,
        );
        assert.ok(noticed < 8000, `noticed well before werift's consent timeout (${noticed} ms)`);
        assert.ok(st.framesSent > f0 + 10, "frames flow again");
        const ps = (await participants(s)).filter((x) => x.identity === ID);
        assert.equal(ps.length, 1, "one participant for the rendition");
      });

      await t.step("an engine restart is a pause, not a reconnect", async () => {
        // While the engine is gone nothing is sent and LiveKit sends no RTCP either: the session
        // must stay up and carry on with an IDR when frames come back.
        const before = statsOf(pub, ID)!;
        await s.engine.kill("SIGKILL");
        await sleep(RTCP_SILENCE_MS + 2000);
        s.engine = await startDemoEngine({
          name: `wanpub-${Deno.pid}`,
          portDir: s.dir,
          outputs: true,
        });
        s.catalog.setEngineSenders(senderInfos(DEFAULT_OUTPUTS, s.engine.name, s.engine.pid));
        s.sessions.wakeAll();
        await waitFor(
          () => statsOf(pub, ID)!.framesSent > before.framesSent + 30,
          "frames from the restarted engine",
          20_000,
        );
        const st = statsOf(pub, ID)!;
        assert.equal(st.reconnects, before.reconnects, "no reconnect");
        assert.equal(st.state, "publishing");
        assert.ok(st.keyframes > before.keyframes, "the restarted source began with an IDR");
      });

      await t.step("close() DELETEs: the participant leaves at once", async () => {
        const t0 = performance.now();
        await pub.close();
        const took = performance.now() - t0;
        const left = (await participants(s)).filter((x) => x.identity === ID);
        console.log(`close() took ${took.toFixed(0)} ms`);
        assert.deepEqual(left, [], "gone right after close()");
        assert.ok(took < 2500, `close() bounded (${took.toFixed(0)} ms)`);
        // Every session's ICE sockets (a dozen reconnects and renditions by now) are closed.
        await waitFor(() => udpSockets().length <= udpBefore, "ICE sockets closed", 3000)
          .catch((e) => {
            throw new Error(`${e.message}: ${udpSockets().join(", ")} (before: ${udpBefore})`);
          });
        assert.ok(
          logs.some((l) => /publishing \(http:\/\/127\.0\.0\.1:\d+\/whip\/v1\/PA_/.test(l)),
        );
      });

      await t.step("a refused token is a typed error with LiveKit's message", async () => {
        const bad = newPublisher(s, logs, { apiSecret: "not-the-secret-not-the-secret-0123" });
        try {
          bad.setWanted([R]);
          await waitFor(() => !!statsOf(bad, ID)?.lastError, "an error", 10_000);
          const st = statsOf(bad, ID)!;
          console.log(`bad keys: ${st.lastError}`);
          assert.equal(st.state, "retrying");
          assert.match(st.lastError!, /WHIP POST: 401 /);
          assert.doesNotMatch(st.lastError!, /eyJ/, "the token LiveKit quotes is redacted");
          assert.ok(
            logs.some((l) => l.startsWith("warn:") && /401/.test(l)),
            "logged as a warning",
          );
        } finally {
          await bad.close();
        }
      });

      await t.step("a source the engine does not offer: no participant, waits", async () => {
        const odd = newPublisher(s, logs);
        const gone: PublishedRendition = {
          source: "no-such-output",
          width: 320,
          height: 180,
          fps: 15,
        };
        try {
          odd.setWanted([gone]);
          await waitFor(() => !!statsOf(odd, publisherIdentity(gone))?.lastError, "an error", 5000);
          const st = statsOf(odd, publisherIdentity(gone))!;
          assert.equal(st.state, "retrying");
          assert.match(st.lastError!, /not offered now/);
          assert.ok(
            !(await participants(s)).some((x) => x.identity === publisherIdentity(gone)),
            "no participant was created for it",
          );
        } finally {
          await odd.close();
        }
      });

      await t.step("with LiveKit down: retrying, and close() still bounded", async () => {
        await s.livekit.stop("SIGKILL");
        const down = newPublisher(s, logs);
        down.setWanted([R]);
        await waitFor(() => !!statsOf(down, ID)?.lastError, "an error", 10_000);
        const st = statsOf(down, ID)!;
        assert.equal(st.state, "retrying");
        assert.match(st.lastError!, /WHIP POST http:\/\/127\.0\.0\.1:\d+\/whip\/v1: /);
        const t0 = performance.now();
        await down.close();
        assert.ok(performance.now() - t0 < 2500, "close() bounded");
        assert.equal(s.sessions.size, 0, "no encoder ran while LiveKit could not be reached");
      });
    } finally {
      await pub.close();
      await s.sessions.close();
      await s.engine.kill();
      await s.livekit.stop();
      Deno.removeSync(s.dir, { recursive: true });
      if (Deno.env.get("SMX_TEST_VERBOSE")) console.log(logs.join("\n"));
    }
  },
});

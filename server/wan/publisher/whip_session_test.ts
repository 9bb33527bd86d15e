/**
 * One WhipSession against the real livekit-server (tests/support/livekit.ts), fed by libx264
 * encoding the native test pattern at 1280x720@30: what the WHIP exchange gives back, and that a session does
 * not depend on its token once it is up (LiveKit checks the token on the request only), which is
 * why tokens.ts mints one per request instead of renewing anything.
 */
import assert from "node:assert/strict";
import { AccessToken, RoomServiceClient } from "livekit-server-sdk";
import { PatternSender } from "../../../ffi/pattern.ts";
import { EncodeSessionManager } from "../../../encoder/manager.ts";
import { startLiveKit } from "../../../tests/support/livekit.ts";
import { waitFor } from "../../../tests/support/demo_engine.ts";
import { WhipSession } from "./whip_session.ts";

Deno.test({
  name: "a WHIP session outlives its token, names LiveKit's ICE servers, and DELETEs",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lk = await startLiveKit();
    const ring = `whipsess-${Deno.pid}`;
    const sender = PatternSender.start(ring, 1280, 720, 30);
    const sessions = new EncodeSessionManager({
      resolveSource: () => ({ ring, width: 1280, height: 720, fps: 30 }),
      encoderPreference: ["libx264"],
    });
    const rooms = new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
    const identity = "smx/cam@1280x720@30";
    const TTL_S = 2;
    const token = async () => {
      const at = new AccessToken(lk.apiKey, lk.apiSecret, { identity, ttl: TTL_S });
      at.addGrant({ roomJoin: true, room: "smx-whipsess", canPublish: true, canSubscribe: false });
      return await at.toJwt();
    };
    let failed: string | undefined;
    let session: WhipSession | undefined;
    try {
      session = await WhipSession.open({
        base: lk.httpUrl,
        token,
        iceServers: [],
        ice: { bindAddress: "127.0.0.1", extraHostAddresses: ["127.0.0.1"], ipv6: false },
        // The test pattern's 720p IDR is only ~10 KB: a small burst allowance so it is paced.
        pacing: { rateBytesPerSecond: 2_500_000, maxSpreadMs: 8, burstBytes: 2400 },
        onKeyframeRequest: () => {},
        onFailed: (why) => failed = why,
      });
      const s = session;
      assert.match(s.location, new RegExp(`^${lk.httpUrl}/whip/v1/PA_\\w+$`), "Location resolved");
      assert.deepEqual(s.iceServers, [{ urls: `stun:${lk.stun.address}` }], "Link ICE servers");
      const sub = sessions.subscribe("cam", { width: 1280, height: 720, fps: 30 }, {
        onFrame: (f) => void s.sendFrame(f.data, f.captureUs, f.keyframe),
      }, "h264-baseline");
      try {
        // Well past the token's expiry: still connected, still in the room, frames still going.
        await new Promise((r) => setTimeout(r, (TTL_S + 4) * 1000));
        const st = s.stats();
        const ps = await rooms.listParticipants("smx-whipsess");
        console.log(`after ${TTL_S + 4} s with a ${TTL_S} s token: ${JSON.stringify(st)}`);
        assert.equal(failed, undefined);
        assert.ok(s.connected);
        assert.deepEqual(ps.map((p) => p.identity), [identity]);
        assert.ok(st.frames > 100 && st.rtcp > 10, "frames out, RTCP back");
        assert.ok(st.pacedFrames >= 1, "the 720p IDRs were paced, not burst");
        assert.ok(
          st.maxRtcpGapMs < 1500,
          `RTCP gaps stay short (${st.maxRtcpGapMs.toFixed(0)} ms)`,
        );
      } finally {
        sub.close();
      }
      // The DELETE presents a fresh token: the first one has long expired.
      await s.close();
      await waitFor(
        async () => (await rooms.listParticipants("smx-whipsess")).length === 0,
        "the participant gone after DELETE",
        2000,
      );
      assert.equal(s.connected, false);
      assert.equal(await s.sendFrame(new Uint8Array([0, 0, 0, 1, 0x65, 0]), 0, true), false);
    } finally {
      await session?.close();
      await sessions.close();
      sender.stop();
      await lk.stop();
    }
  },
});

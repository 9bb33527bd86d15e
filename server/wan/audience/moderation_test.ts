/**
 * Moderation through smx_ctl (operators alone hold ctl tokens): an `audience` message reaches the
 * WAN relay's audience hook with the sender; a malformed one is refused on smx_params with the
 * reason; mute then makes the aggregator ignore that viewer. Real Centrifugo and demo engine.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../../engine/param_mirror.ts";
import type { ModerationMsg } from "../../../protocol/audience.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { connectPage, startCentrifugo, type TestPage } from "../../../tests/support/centrifugo.ts";
import { WanRelay } from "../relay/relay.ts";
import { ReactionAggregator } from "./reactions.ts";

Deno.test("moderation: an operator's audience message on smx_ctl mutes and clears; malformed refused", async () => {
  const engineId = `m-${crypto.randomUUID().slice(0, 8)}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-mod-" });
  const engine = await startDemoEngine({ name: engineId, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const cf = await startCentrifugo({ origin: "http://127.0.0.1:9" });
  const seen: [ModerationMsg, string][] = [];
  const agg = new ReactionAggregator({ publish: () => Promise.resolve() });
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: cf.tokenSecret },
    mirror,
    sources: () => [],
    resolveSource: () => undefined,
    onWanted: () => {},
    onKeyframe: () => {},
    audience: {
      moderate: (m, by) => {
        seen.push([m, by]);
        if (m.op === "mute") agg.mute(m.user!);
        if (m.op === "clear") agg.clear();
      },
    },
  });
  let op: TestPage | undefined;
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    op = await connectPage({
      url: cf.url,
      tokenSecret: cf.tokenSecret,
      user: "olga",
      engine: engineId,
    });
    await op.publish({ type: "audience", op: "mute", user: "troll" });
    await waitFor(() => seen.length === 1, "the mute", 5000);
    assert.deepEqual(seen[0], [{ type: "audience", op: "mute", user: "troll" }, "olga"]);
    agg.receive("troll", "troll", { r: "fire" });
    assert.equal(agg.stats.muted, 1);
    assert.equal(agg.stats.accepted, 0);
    await op.publish(JSON.stringify({ type: "audience", op: "clear" }));
    await waitFor(() => seen.length === 2, "the clear", 5000);
    await op.publish({ type: "audience", op: "ban" });
    const err = await op.nextParams((m) => m.type === "error", "the refusal");
    assert.match(JSON.stringify(err), /op must be clear, mute or unmute/);
    assert.equal(seen.length, 2);
  } finally {
    op?.client.disconnect();
    agg.close();
    await relay.stop();
    await mirror.stop();
    await cf.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * Centrifugo's Redis engine with two nodes sharing one redis-server: smx publishes and reads
 * smx_ctl through node A, a page connects to node B only. The late joiner's state comes from the
 * shared history, the page's write crosses to smx through Redis, and the ack comes back the same
 * way; presence on smx_ctl (the site's "online") is seen from node B too.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../../engine/param_mirror.ts";
import { channelOf, engineUser } from "../../../protocol/wan.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import {
  connectPage,
  startCentrifugo,
  startRedis,
  type TestPage,
} from "../../../tests/support/centrifugo.ts";
import { CentrifugoApi } from "./centrifugo_api.ts";
import { WanRelay } from "./relay.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

Deno.test("two Centrifugo nodes on one Redis: smx through node A, a page through node B", async () => {
  const engineId = `c-${uniq()}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-cluster-" });
  const redis = await startRedis();
  const secrets = { tokenSecret: `s-${uniq()}${uniq()}`, apiKey: `k-${uniq()}${uniq()}` };
  const a = await startCentrifugo({ redis, ...secrets, nodeName: "node-a" });
  const b = await startCentrifugo({ redis, ...secrets, nodeName: "node-b" });
  const engine = await startDemoEngine({ name: `cluster-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: a.url, apiUrl: a.apiUrl, ...secrets },
    mirror,
    sources: () => [],
    resolveSource: () => undefined,
    onWanted: () => {},
    onKeyframe: () => {},
  });
  let page: TestPage | undefined;
  const apiB = new CentrifugoApi({ apiUrl: b.apiUrl, apiKey: secrets.apiKey });
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    await mirror.write("Color.Shapes.Hue", 0.25);
    await relay.flushed();

    // The site, asking node B, sees the engine online (presence lives in Redis).
    const presence = await apiB.presence(channelOf("ctl", engineId));
    assert.ok(Object.values(presence).some((c) => c.user === engineUser(engineId)));

    page = await connectPage({
      url: b.url,
      tokenSecret: secrets.tokenSecret,
      user: "alice",
      engine: engineId,
    });
    const s = await page.nextState((m) => m.snapshot !== null, "state through node B");
    assert.equal(s.snapshot!.values["Color.Shapes.Hue"], 0.25);

    await page.publish({ v: 1, type: "set", id: 3, path: "Color.Shapes.Hue", value: 0.75 });
    const ack = await page.nextParams((m) => m.type === "ack" && m.id === 3, "ack through B");
    assert.equal(ack.to, page.clientId);
    assert.equal(mirror.get("Color.Shapes.Hue"), 0.75);
    await page.nextParams(
      (m) => m.type === "delta" && m.changes.includes(0.75),
      "delta through node B",
    );
  } finally {
    page?.close();
    apiB.close();
    await relay.stop();
    await mirror.stop();
    await engine.kill();
    await a.stop();
    await b.stop();
    await redis.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

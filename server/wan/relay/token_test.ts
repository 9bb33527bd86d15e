/**
 * smx's own tokens are short-lived and renewed in place: with a 2 s lifetime the connection and
 * the smx_ctl subscription are refreshed through getToken several times without a reconnect or
 * a resubscribe, and a page's write still comes back acknowledged.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../../engine/param_mirror.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { connectPage, startCentrifugo, type TestPage } from "../../../tests/support/centrifugo.ts";
import { WanRelay } from "./relay.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

Deno.test("smx's tokens are refreshed before they expire, without a reconnect", async () => {
  const engineId = `t-${uniq()}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-token-" });
  const cf = await startCentrifugo();
  const engine = await startDemoEngine({ name: `token-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: cf.tokenSecret },
    mirror,
    sources: () => [],
    resolveSource: () => undefined,
    onWanted: () => {},
    onKeyframe: () => {},
    tokenTtlS: 2,
  });
  let page: TestPage | undefined;
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    await waitFor(() => relay.stats().ctl.tokensSigned >= 6, "three rounds of tokens", 10000);
    const ctl = relay.stats().ctl;
    assert.equal(ctl.connects, 1, JSON.stringify(ctl));
    assert.equal(ctl.subscribes, 1, JSON.stringify(ctl));
    assert.equal(ctl.state, "subscribed");
    page = await connectPage({
      url: cf.url,
      tokenSecret: cf.tokenSecret,
      user: "alice",
      engine: engineId,
    });
    await page.publish({ v: 1, type: "set", id: 1, path: "Color.Shapes.Hue", value: 0.5 });
    await page.nextParams((m) => m.type === "ack" && m.id === 1, "ack with refreshed tokens");
  } finally {
    page?.close();
    await relay.stop();
    await mirror.stop();
    await engine.kill();
    await cf.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a wrong token secret: smx says why, and comes back once Centrifugo agrees", async () => {
  const engineId = `w-${uniq()}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-token-" });
  let cf = await startCentrifugo({ tokenSecret: `old-${uniq()}` });
  const secret = `new-${uniq()}`;
  const engine = await startDemoEngine({ name: `token-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const logs: string[] = [];
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: secret },
    mirror,
    sources: () => [],
    resolveSource: () => undefined,
    onWanted: () => {},
    onKeyframe: () => {},
    log: (level, m) => logs.push(`${level} ${m}`),
    terminalRetryMs: 300,
  });
  let page: TestPage | undefined;
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => logs.some((l) => /refused smx for good.*tokenSecret/.test(l)), "the why");
    assert.equal(relay.stats().ctl.state, "disconnected");
    // The operator fixes Centrifugo's secret (same address): smx gets in on its own.
    const { port, apiKey } = cf;
    await cf.stop();
    cf = await startCentrifugo({ port, apiKey, tokenSecret: secret });
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    page = await connectPage({ url: cf.url, tokenSecret: secret, user: "alice", engine: engineId });
    await page.nextState((m) => m.snapshot !== null, "the state once smx got in");
  } finally {
    page?.close();
    await relay.stop();
    await mirror.stop();
    await engine.kill();
    await cf.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

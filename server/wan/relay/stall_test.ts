/**
 * A stalled Centrifugo (SIGSTOP: connections open, nothing answered) must not grow smx: while the
 * engine keeps changing, what waits for Centrifugo stays under the queue's bounds, the dropped
 * deltas are counted and logged, and once Centrifugo answers again the state is republished by
 * itself, so a page joining then sees the engine's latest values.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../../engine/param_mirror.ts";
import { startDemoEngine, waitFor } from "../../../tests/support/demo_engine.ts";
import { connectPage, startCentrifugo, type TestPage } from "../../../tests/support/centrifugo.ts";
import { WanRelay } from "./relay.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

Deno.test("a stalled Centrifugo: bounded queue, drops logged, state republished after", async () => {
  const engineId = `s-${uniq()}`;
  const dir = Deno.makeTempDirSync({ prefix: "smx-stall-" });
  const cf = await startCentrifugo();
  const engine = await startDemoEngine({ name: `stall-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const logs: string[] = [];
  const relay = new WanRelay({
    engine: engineId,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: cf.tokenSecret },
    mirror,
    sources: () => [],
    resolveSource: () => undefined,
    onWanted: () => {},
    onKeyframe: () => {},
    log: (level, m) => logs.push(`${level} ${m}`),
    apiTimeoutMs: 400,
    maxPending: 50,
  });
  let page: TestPage | undefined;
  try {
    await mirror.whenConnected(10000);
    relay.start();
    await waitFor(() => relay.stats().ctl.state === "subscribed", "relay subscribed", 10000);
    await relay.flushed();

    cf.pause();
    let maxPending = 0;
    let last = 0;
    for (let i = 1; i <= 400; i++) {
      last = i / 1000;
      await mirror.write("Color.Shapes.Hue", last);
      maxPending = Math.max(maxPending, relay.stats().publish.pending);
    }
    await waitFor(() => relay.stats().publish.failing, "the API failing", 5000);
    const stalled = relay.stats().publish;
    assert.ok(maxPending <= 50, `pending peaked at ${maxPending}`);
    assert.ok(stalled.dropped > 0, JSON.stringify(stalled));
    assert.ok(logs.some((l) => l.startsWith("warn") && /Centrifugo/.test(l)), logs.join("\n"));

    cf.resume();
    await waitFor(() => !relay.stats().publish.failing, "the API answering again", 10000);
    await relay.flushed();
    page = await connectPage({
      url: cf.url,
      tokenSecret: cf.tokenSecret,
      user: "alice",
      engine: engineId,
    });
    const s = await page.nextState((m) => m.snapshot !== null, "the state after the stall");
    assert.equal(s.snapshot!.values["Color.Shapes.Hue"], last);
    assert.ok(s.snapshot!.rev <= mirror.rev && s.snapshot!.rev >= mirror.rev - 3);
    console.log(`stalled: ${JSON.stringify(stalled)}; peak pending ${maxPending}`);
  } finally {
    page?.close();
    await relay.stop();
    await mirror.stop();
    await engine.kill();
    await cf.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

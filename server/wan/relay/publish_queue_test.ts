/**
 * PublishQueue against a real Centrifugo: a burst keeps its order and goes out in far fewer
 * requests than messages (one batch per round trip); a command Centrifugo refuses is said once
 * and not retried in a loop.
 */
import assert from "node:assert/strict";
import { channelOf } from "../../../protocol/wan.ts";
import { waitFor } from "../../../tests/support/demo_engine.ts";
import { connectPage, startCentrifugo, type TestPage } from "../../../tests/support/centrifugo.ts";
import { CentrifugoApi } from "./centrifugo_api.ts";
import { PublishQueue } from "./publish_queue.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

Deno.test("PublishQueue: order kept, batched, refusals not looped", async () => {
  const engine = `q-${uniq()}`;
  const cf = await startCentrifugo();
  const api = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: cf.apiKey });
  const logs: string[] = [];
  let page: TestPage | undefined;
  const queue = new PublishQueue({
    api,
    stateChannel: "no_such_namespace:x", // refused: unknown namespace
    paramsChannel: channelOf("params", engine),
    stateText: () => JSON.stringify({ v: 1, type: "state" }),
    log: (level, m) => logs.push(`${level} ${m}`),
  });
  try {
    page = await connectPage({
      url: cf.url,
      tokenSecret: cf.tokenSecret,
      user: "alice",
      engine,
      kinds: ["params"],
    });
    const n = 300;
    for (let i = 0; i < n; i++) {
      queue.params(JSON.stringify({ v: 1, type: "ack", id: i + 1, rev: i }));
    }
    await queue.idle();
    await waitFor(() => page!.params.length === n, `${n} messages`, 5000);
    assert.deepEqual(
      page.params.map((m) => m.type === "ack" && m.id),
      [...Array(n).keys()].map((i) => i + 1),
    );
    const st = queue.stats;
    assert.ok(st.requests < n / 3, `${st.requests} requests for ${n} messages`);
    console.log(`${n} messages in ${st.requests} requests`);

    queue.state();
    queue.state(); // asked again while the first is in flight: it may be newer, so it goes too
    await queue.idle();
    const refused = queue.stats.refused;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(refused >= 1 && refused <= 2, JSON.stringify(queue.stats));
    assert.equal(queue.stats.refused, refused, "a refused state is not retried in a loop");
    assert.equal(logs.filter((l) => l.includes("refused")).length, 1, logs.join("\n"));
  } finally {
    page?.close();
    queue.stop();
    api.close();
    await cf.stop();
  }
});

/**
 * The watch page's audience model against the real Centrifugo and smx's AudienceService-side
 * aggregator: a viewer's reaction (RTL text with an emoji) reaches another viewer's model intact
 * with the viewer count; a bad text is refused on the page with the reason and nothing is sent.
 */
import assert from "node:assert/strict";
import { Centrifuge } from "centrifuge";
import { audienceChannel } from "../../protocol/audience.ts";
import { engineUser } from "../../protocol/wan.ts";
import { signHs256 } from "../../server/wan/jwt.ts";
import { CentrifugoApi } from "../../server/wan/relay/centrifugo_api.ts";
import { ReactionAggregator } from "../../server/wan/audience/reactions.ts";
import { startCentrifugo } from "../../tests/support/centrifugo.ts";
import { AudienceModel } from "./audience.tsx";

const ENGINE = "studio";
const exp = () => Math.floor(Date.now() / 1000) + 300;

async function until(what: string, ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("audience model: reactions and the count between two viewers; bad text refused on the page", async () => {
  const cf = await startCentrifugo();
  const api = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: cf.apiKey });
  const aud = audienceChannel("aud", ENGINE);
  const react = audienceChannel("react", ENGINE);
  const agg = new ReactionAggregator({
    publish: (b) => api.call("publish", { channel: aud, data: b }).then(() => {}),
    viewers: () =>
      api.call<{ num_users: number }>("presence_stats", { channel: aud }).then((r) => r.num_users),
  });
  const clients: Centrifuge[] = [];
  const models: AudienceModel[] = [];
  const connect = (user: string, name: string) => {
    const c = new Centrifuge(cf.url, {
      getToken: () => signHs256({ sub: user, exp: exp(), info: { name } }, cf.tokenSecret),
      websocket: WebSocket,
      networkEventTarget: new EventTarget(),
      pageEventTarget: new EventTarget(),
    });
    clients.push(c);
    return c;
  };
  try {
    const smx = connect(engineUser(ENGINE), "smx");
    const s = smx.newSubscription(react, {
      getToken: () =>
        signHs256({ sub: engineUser(ENGINE), channel: react, exp: exp() }, cf.tokenSecret),
    });
    s.on("publication", (ctx) => {
      const n = (ctx.info?.connInfo as { name?: string } | undefined)?.name ?? "viewer";
      if (ctx.info) agg.receive(ctx.info.user, n, ctx.data);
    });
    const subscribed = new Promise((r) => s.once("subscribed", r));
    s.subscribe();
    smx.connect();
    await subscribed;

    // The site's subscription-token endpoint, as the page asks it (signed here with the secret).
    const pageApi = (user: string) => ({
      subscriptionToken: (_e: string, channel: string) =>
        signHs256({ sub: user, channel, exp: exp() }, cf.tokenSecret),
    });
    const [a, b] = [["va", "דנה"], ["vb", "Björn"]].map(([u, n]) => {
      const c = connect(u, n);
      const m = new AudienceModel({ client: c, api: pageApi(u), engine: ENGINE });
      models.push(m);
      c.connect();
      return m;
    });
    await until("the viewer count", () => b.viewers.value === 2);
    const text = "שלום עולם 🎉";
    assert.equal(await a.send("party", text), true);
    await until("A's text at B", () => b.texts.value.some(([, t]) => t === text));
    assert.deepEqual(b.texts.value.at(-1), ["דנה", text]);
    assert.ok(b.floating.value.some((f) => f.emoji === "🎉"));

    const accepted = agg.stats.accepted;
    assert.equal(await a.send("fire", "evil\u202Eexe"), false);
    assert.match(a.notice.value, /bidirectional/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(agg.stats.accepted, accepted, "nothing was sent");
  } finally {
    for (const m of models) m.close();
    agg.close();
    for (const c of clients) c.disconnect();
    api.close();
    await cf.stop();
  }
});

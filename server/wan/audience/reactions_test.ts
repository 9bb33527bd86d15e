/**
 * Reactions through the real pinned Centrifugo with the project's config: viewer A publishes into
 * smx_react without a subscription, smx's client reads it, the aggregator publishes one batch to
 * smx_aud that viewer B receives (emoji, combining marks and RTL text intact) with the viewer
 * count, and the engine's aggregate rate moves; a viewer over the rate limit is throttled; bad
 * texts are refused and nothing throws; a muted viewer is ignored; a viewer cannot read smx_react.
 */
import assert from "node:assert/strict";
import { Centrifuge, type Subscription } from "centrifuge";
import { Centrifuge as CentrifugeProtobuf } from "centrifuge/build/protobuf";
import { audienceChannel, type ReactionBatch, VIEWER_BURST } from "../../../protocol/audience.ts";
import { engineUser } from "../../../protocol/wan.ts";
import { startCentrifugo } from "../../../tests/support/centrifugo.ts";
import { signHs256 } from "../jwt.ts";
import { CentrifugoApi } from "../relay/centrifugo_api.ts";
import { ReactionAggregator } from "./reactions.ts";

const ENGINE = "studio";

function client(url: string, secret: string, user: string, name: string) {
  const exp = () => Math.floor(Date.now() / 1000) + 300;
  return new Centrifuge(url, {
    getToken: () => signHs256({ sub: user, exp: exp(), info: { name } }, secret),
    websocket: WebSocket,
    networkEventTarget: new EventTarget(),
    pageEventTarget: new EventTarget(),
  });
}

function subscribe(c: Centrifuge, channel: string, secret: string, user: string | null) {
  const s = c.newSubscription(
    channel,
    user === null ? {} : {
      getToken: () =>
        signHs256({ sub: user, channel, exp: Math.floor(Date.now() / 1000) + 300 }, secret),
    },
  );
  const subscribed = new Promise<void>((resolve, reject) => {
    s.once("subscribed", () => resolve());
    s.once("error", (e) => reject(new Error(JSON.stringify(e.error))));
    s.once("unsubscribed", (e) => reject(new Error(`unsubscribed ${e.code} ${e.reason}`)));
  });
  s.subscribe();
  return { s, subscribed };
}

async function until(what: string, ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("reactions: viewer → smx_react → one batch on smx_aud to every viewer; throttled, refused, muted", async () => {
  const cf = await startCentrifugo();
  const api = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: cf.apiKey });
  const aggregates: { rate: number; viewers: number | undefined }[] = [];
  const logs: string[] = [];
  const aud = audienceChannel("aud", ENGINE);
  const agg = new ReactionAggregator({
    publish: (b) => api.call("publish", { channel: aud, data: b }).then(() => {}),
    viewers: () =>
      api.call<{ num_users: number }>("presence_stats", { channel: aud }).then((r) => r.num_users),
    onAggregate: (a) => aggregates.push(a),
    log: (m) => logs.push(m),
  });
  const clients: Centrifuge[] = [];
  try {
    // smx's own client reads smx_react (it signs its own subscription token).
    const smx = client(cf.url, cf.tokenSecret, engineUser(ENGINE), "smx");
    clients.push(smx);
    smx.connect();
    const react = subscribe(
      smx,
      audienceChannel("react", ENGINE),
      cf.tokenSecret,
      engineUser(ENGINE),
    );
    react.s.on("publication", (ctx) => {
      const info = ctx.info;
      if (!info) return; // a publication without ClientInfo came from the server API: not a viewer
      const name = (info.connInfo as { name?: string } | undefined)?.name ?? info.user;
      agg.receive(info.user, name, ctx.data);
    });
    await react.subscribed;

    const a = client(cf.url, cf.tokenSecret, "viewer-a", "Аня");
    const b = client(cf.url, cf.tokenSecret, "viewer-b", "ب");
    clients.push(a, b);
    a.connect();
    b.connect();
    const batches: ReactionBatch[] = [];
    const bAud = subscribe(b, aud, cf.tokenSecret, "viewer-b");
    (bAud.s as Subscription).on("publication", (ctx) => batches.push(ctx.data as ReactionBatch));
    await bAud.subscribed;
    await new Promise<void>((r) => a.state === "connected" ? r() : a.once("connected", () => r()));

    // A viewer cannot read the raw reactions (no token for smx_react).
    const peek = subscribe(a, audienceChannel("react", ENGINE), cf.tokenSecret, null);
    await assert.rejects(peek.subscribed);

    // One reaction with text: emoji with a skin tone, a combining mark, RTL.
    const text = "שלום 👋🏽 e\u0301 مرحبا";
    await a.publish(audienceChannel("react", ENGINE), { r: "fire", text });
    await until("B's batch", () => batches.some((x) => x.n.fire));
    const got = batches.find((x) => x.n.fire)!;
    assert.deepEqual(got.t, [["Аня", text.normalize("NFC")]]);
    await until("the aggregate rate", () => aggregates.some((x) => x.rate > 0));
    await until(
      "the viewer count",
      () => batches.some((x) => (x as { viewers?: number }).viewers === 1),
    );

    // Bad texts: refused with a reason, nothing throws, the connection stays.
    const before = agg.stats.refused;
    for (
      const bad of [
        { r: "fire", text: "evil\u202Etxt" },
        { r: "fire", text: "a\uD800b" },
        { r: "fire", text: "x\u0000y" },
        { r: "nope" },
        "not an object",
      ]
    ) {
      await a.publish(audienceChannel("react", ENGINE), bad);
    }
    await until("the refusals", () => agg.stats.refused >= before + 5);
    assert.ok(logs.some((l) => /bidirectional/.test(l)), logs.join("\n"));
    assert.ok(logs.some((l) => /lone surrogate/.test(l)), logs.join("\n"));

    // Over the limit: a burst of 30 from one viewer, at most the burst (+ refill) accepted.
    const accepted0 = agg.stats.accepted, throttled0 = agg.stats.throttled;
    await Promise.all(
      Array.from({ length: 30 }, () => a.publish(audienceChannel("react", ENGINE), { r: "clap" })),
    );
    await until(
      "30 seen",
      () => agg.stats.accepted + agg.stats.throttled >= accepted0 + throttled0 + 30,
    );
    assert.ok(agg.stats.accepted - accepted0 <= VIEWER_BURST + 2, JSON.stringify(agg.stats));
    assert.ok(agg.stats.throttled - throttled0 >= 30 - VIEWER_BURST - 2, JSON.stringify(agg.stats));

    // Muted: ignored.
    agg.mute("viewer-a");
    const muted0 = agg.stats.muted;
    await a.publish(audienceChannel("react", ENGINE), { r: "heart" });
    await until("the muted reaction", () => agg.stats.muted > muted0);
    assert.equal(agg.stats.publishErrors, 0);
  } finally {
    agg.close();
    for (const c of clients) c.disconnect();
    api.close();
    await cf.stop();
  }
});

Deno.test("reactions: invalid UTF-8 on the wire (Centrifugo passes it through) is refused by smx, whose connection stays", async () => {
  const cf = await startCentrifugo();
  const api = new CentrifugoApi({ apiUrl: cf.apiUrl, apiKey: cf.apiKey });
  const aud = audienceChannel("aud", ENGINE);
  const react = audienceChannel("react", ENGINE);
  const agg = new ReactionAggregator({
    publish: (b) => api.call("publish", { channel: aud, data: b }).then(() => {}),
  });
  const clients: Centrifuge[] = [];
  let raw: WebSocket | undefined;
  try {
    // smx's reader as AudienceService has it: the protobuf protocol (data as bytes).
    const smx = new CentrifugeProtobuf(cf.url, {
      getToken: () =>
        signHs256(
          { sub: engineUser(ENGINE), exp: Math.floor(Date.now() / 1000) + 300 },
          cf.tokenSecret,
        ),
      websocket: WebSocket,
      networkEventTarget: new EventTarget(),
      pageEventTarget: new EventTarget(),
    }) as unknown as Centrifuge;
    clients.push(smx);
    smx.connect();
    const r = subscribe(smx, react, cf.tokenSecret, engineUser(ENGINE));
    r.s.on("publication", (ctx) => {
      if (ctx.info) agg.receive(ctx.info.user, ctx.info.user, ctx.data);
    });
    await r.subscribed;

    // A hand-made client: Centrifugo's JSON protocol with invalid UTF-8 in the reaction's text
    // (a truncated 2-byte sequence and a lone 0xFF), sent as raw bytes.
    const token = await signHs256({
      sub: "mallory",
      exp: Math.floor(Date.now() / 1000) + 300,
    }, cf.tokenSecret);
    raw = new WebSocket(cf.url);
    const closed = new Promise<CloseEvent>((res) => raw!.addEventListener("close", res));
    const replies: string[] = [];
    raw.addEventListener("message", (e) => replies.push(String(e.data)));
    await new Promise((res, rej) => {
      raw!.addEventListener("open", res);
      raw!.addEventListener("error", rej);
    });
    raw.send(JSON.stringify({ id: 1, connect: { token } }));
    await until("connect reply", () => replies.some((x) => x.includes('"id":1')));
    const head = new TextEncoder().encode(
      `{"id":2,"publish":{"channel":"${react}","data":{"r":"fire","text":"ab`,
    );
    const tail = new TextEncoder().encode(`"}}}`);
    const frame = new Uint8Array([...head, 0xc3, 0x28, 0xff, ...tail]);
    raw.send(frame);
    raw.send(new TextDecoder().decode(frame)); // the same decoded leniently (U+FFFD): accepted
    // Either Centrifugo refuses or drops the bytes, or smx refuses the text; never a crash.
    await new Promise((res) => setTimeout(res, 700));
    // The raw bytes are refused by smx's UTF-8 check; the leniently decoded copy (U+FFFD) is a
    // valid text and accepted.
    await until("both seen", () => agg.stats.refused + agg.stats.accepted >= 2);
    assert.equal(agg.stats.refused, 1, JSON.stringify(agg.stats));
    assert.equal(agg.stats.accepted, 1, JSON.stringify(agg.stats));
    console.log(
      `invalid UTF-8: Centrifugo replied ${JSON.stringify(replies.slice(1))}; ` +
        `smx: ${JSON.stringify(agg.stats)}; raw socket ${
          raw.readyState === WebSocket.OPEN ? "open" : "closed"
        }`,
    );

    // Another viewer's reaction still flows.
    const b = client(cf.url, cf.tokenSecret, "viewer-b", "b");
    clients.push(b);
    b.connect();
    const before = agg.stats.accepted;
    await b.publish(react, { r: "heart", text: "ok ✓" });
    await until("B's reaction", () => agg.stats.accepted === before + 1);
    raw.close();
    await closed;
  } finally {
    raw?.close();
    agg.close();
    for (const c of clients) c.disconnect();
    api.close();
    await cf.stop();
  }
});

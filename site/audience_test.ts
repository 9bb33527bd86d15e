/**
 * Roles and the public mint (issue 11), against the site app in process with the real pinned
 * Centrifugo for the tokens it mints: an operator gets every token; a viewer (signed in, not in
 * `operators.groups`) and an anonymous visitor of a public site get no smx_ctl token, and a
 * forged publish to smx_ctl with a viewer's connection is refused by Centrifugo itself; the
 * anonymous mint keeps one identity per visitor (a signed cookie) and holds its per-address and
 * global limits with a 429 JSON and Retry-After.
 */
import assert from "node:assert/strict";
import { Centrifuge } from "centrifuge";
import { channelOf, type JoinTokens } from "../protocol/wan.ts";
import { startCentrifugo } from "../tests/support/centrifugo.ts";
import { createSite } from "./app.ts";
import { parseConfig } from "./config.ts";
import { EngineDirectory, Presence } from "./engines.ts";
import { SitePages } from "./page.ts";

const ORIGIN = "http://127.0.0.1:7999";
const PROXY = "127.0.0.1";

function siteFor(centrifugo: { url: string; apiUrl: string; apiKey: string; secret: string }) {
  const config = parseConfig({
    publicOrigin: ORIGIN,
    trustedProxies: [PROXY],
    auth: {},
    livekit: { url: "ws://127.0.0.1:7880", apiKey: "k", apiSecret: "lk-secret-0123456789abcdef" },
    centrifugo: {
      url: centrifugo.url,
      apiUrl: centrifugo.apiUrl,
      apiKey: centrifugo.apiKey,
      tokenSecret: centrifugo.secret,
    },
    engines: [{ id: "studio", label: "Studio" }, { id: "lab", label: "Lab", groups: ["lab"] }],
    operators: { groups: ["ops"] },
    public: true,
    publicMint: { perAddress: { burst: 4, perMinute: 6 }, global: { burst: 9, perSecond: 0.5 } },
  });
  const presence = new Presence(config.centrifugo);
  return createSite({
    config,
    pages: new SitePages({ get: () => undefined, error: "" }),
    engines: new EngineDirectory(config.engines, presence),
  });
}

type Site = ReturnType<typeof siteFor>;

async function call(
  site: Site,
  path: string,
  o: { body?: unknown; user?: [string, string[]]; cookie?: string; from?: string } = {},
) {
  const headers = new Headers({ host: new URL(ORIGIN).host });
  if (o.body !== undefined) {
    headers.set("content-type", "application/json");
    headers.set("origin", ORIGIN);
  }
  if (o.user) {
    headers.set("x-authentik-uid", o.user[0]);
    headers.set("x-authentik-username", o.user[0]);
    headers.set("x-authentik-groups", o.user[1].join("|"));
  }
  if (o.cookie) headers.set("cookie", o.cookie);
  // Anonymous visitors come through the proxy too; their address is its X-Forwarded-For.
  if (o.from) headers.set("x-forwarded-for", `10.9.9.9, ${o.from}`);
  const res = await site.fetch(
    new Request(`${ORIGIN}${path}`, {
      method: o.body === undefined ? "GET" : "POST",
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    }),
    { peer: { address: PROXY } },
  );
  const text = await res.text();
  return { res, status: res.status, json: text ? JSON.parse(text) : null };
}

function sub(token: string): string {
  return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub;
}

Deno.test("roles: operators get every token; viewers and anonymous visitors no smx_ctl token, and Centrifugo refuses their forged publish", async () => {
  const cf = await startCentrifugo();
  try {
    const site = siteFor({
      url: cf.url,
      apiUrl: cf.apiUrl,
      apiKey: cf.apiKey,
      secret: cf.tokenSecret,
    });
    const ctl = channelOf("ctl", "studio");
    const state = channelOf("state", "studio");

    const op = await call(site, "/api/wan/session", { user: ["olga", ["ops"]] });
    assert.equal(op.json.role, "operator");
    const opSub = await call(site, "/api/wan/token/subscription", {
      user: ["olga", ["ops"]],
      body: { engine: "studio", channel: ctl },
    });
    assert.equal(opSub.status, 200);

    const v = await call(site, "/api/wan/session", { user: ["vic", ["staff"]] });
    assert.equal(v.json.role, "viewer");
    assert.equal(v.json.anonymous, undefined);
    const vJoin = await call(site, "/api/wan/token", {
      user: ["vic", ["staff"]],
      body: { engine: "studio" },
    });
    assert.equal(vJoin.status, 200);
    assert.equal((vJoin.json as JoinTokens).role, "viewer");
    const vCtl = await call(site, "/api/wan/token/subscription", {
      user: ["vic", ["staff"]],
      body: { engine: "studio", channel: ctl },
    });
    assert.equal(vCtl.status, 403);
    assert.match(vCtl.json.message, /viewers watch only/);
    const vState = await call(site, "/api/wan/token/subscription", {
      user: ["vic", ["staff"]],
      body: { engine: "studio", channel: state },
    });
    assert.equal(vState.status, 200);
    // The audience batches: readable; the raw reactions: never (only smx reads them).
    for (const [ch, want] of [["smx_aud:studio", 200], ["smx_react:studio", 403]] as const) {
      const r = await call(site, "/api/wan/token/subscription", {
        user: ["vic", ["staff"]],
        body: { engine: "studio", channel: ch },
      });
      assert.equal(r.status, want, ch);
    }

    // Centrifugo itself: the viewer's connection connects, but smx_ctl takes no publish from it
    // (publishing there needs a subscription, which needs the token the site refused).
    const client = new Centrifuge(cf.url, {
      websocket: WebSocket,
      token: (vJoin.json as JoinTokens).centrifugo.token,
    });
    try {
      const connected = new Promise((r) => client.once("connected", r));
      client.connect();
      await connected;
      const forged = await client.publish(ctl, { t: "set", path: "x", value: 1 }).then(
        () => null,
        (e) => e as { code: number; message: string },
      );
      assert.ok(forged, "a viewer's publish to smx_ctl was accepted");
      assert.equal(forged.code, 103, JSON.stringify(forged)); // permission denied
    } finally {
      client.disconnect();
    }
  } finally {
    await cf.stop();
  }
});

Deno.test("public site: anonymous viewers keep one identity, get no smx_ctl token, and the mint's limits hold", async () => {
  const site = siteFor({
    url: "ws://127.0.0.1:1/connection/websocket",
    apiUrl: "http://127.0.0.1:1/api",
    apiKey: "k",
    secret: "cf-secret-0123456789abcdef",
  });
  const s = await call(site, "/api/wan/session", { from: "203.0.113.1" });
  assert.equal(s.status, 200);
  assert.equal(s.json.role, "viewer");
  assert.equal(s.json.anonymous, true);
  const cookie = (s.res.headers.get("set-cookie") ?? "").split(";")[0];
  assert.match(cookie, /^smx_anon=[0-9a-f]{16}\.[0-9a-f]{32}$/);
  assert.match(s.res.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);

  const a = "203.0.113.1";
  const join = await call(site, "/api/wan/token", { from: a, cookie, body: { engine: "studio" } });
  assert.equal(join.status, 200);
  const conn = await call(site, "/api/wan/token/connection", {
    from: a,
    cookie,
    body: { engine: "studio" },
  });
  assert.equal(sub(conn.json.token), sub((join.json as JoinTokens).centrifugo.token));
  assert.equal(sub(conn.json.token), `anon:${cookie.split("=")[1].split(".")[0]}`);
  const ctl = await call(site, "/api/wan/token/subscription", {
    from: a,
    cookie,
    body: { engine: "studio", channel: channelOf("ctl", "studio") },
  });
  assert.equal(ctl.status, 403);
  // An engine with groups is not open to anonymous visitors. (4th mint from this address.)
  const lab = await call(site, "/api/wan/token", { from: a, cookie, body: { engine: "lab" } });
  assert.equal(lab.status, 403);
  // A forged cookie is a new identity, not the one it names.
  const forged = await call(site, "/api/wan/session", {
    from: a,
    cookie: cookie.slice(0, -1) + (cookie.endsWith("0") ? "1" : "0"),
  });
  assert.notEqual(forged.json.user.id, s.json.user.id);

  // Per address: the burst of 4 is spent.
  const over = await call(site, "/api/wan/token", { from: a, cookie, body: { engine: "studio" } });
  assert.equal(over.status, 429);
  assert.equal(over.json.error, "rate_limited");
  assert.match(over.json.message, /this address/);
  assert.ok(Number(over.res.headers.get("retry-after")) >= 1);
  // Another address still gets tokens, until the global burst (9) is spent too.
  let status = 200, n = 0;
  for (let i = 0; i < 20 && status === 200; i++, n++) {
    status =
      (await call(site, "/api/wan/token", { from: `198.51.100.${i}`, body: { engine: "studio" } }))
        .status;
  }
  assert.equal(status, 429);
  assert.equal(n, 9 - 4 + 1); // 4 spent above, 5 more, the next refused
  const g = await call(site, "/api/wan/token", { from: "192.0.2.77", body: { engine: "studio" } });
  assert.equal(g.status, 429);
  assert.match(g.json.message, /the site/);
});

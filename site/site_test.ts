/**
 * `smx site` at the API level, through the SSO stand-in (tests/support/sso_proxy.ts), with real
 * processes: the site started as a user starts it (`deno run -A main.ts site --config FILE`), the
 * proxy in front on 127.0.0.1, requests by fetch and, where a test must choose the Host header or
 * the source address, by node:http.
 *
 * The first test points the site at a Centrifugo address nobody listens on (every engine
 * offline); the second runs the pinned Centrifugo with the project's config
 * (tests/support/centrifugo.ts, built when missing) for presence and to show Centrifugo itself
 * takes the site's tokens, each only for its own channel; the third runs the pinned livekit-server
 * (tests/support/livekit.ts) and asks it what permissions it gave the viewer who joined with the
 * site's token.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { RoomServiceClient, TokenVerifier } from "livekit-server-sdk";
import { channelOf, engineUser, type JoinTokens, REACH_META, roomOf } from "../protocol/wan.ts";
import { signHs256, verifyHs256 } from "../server/wan/jwt.ts";
import { startCentrifugo } from "../tests/support/centrifugo.ts";
import { startLiveKit } from "../tests/support/livekit.ts";
import { type SiteStack, startSiteStack } from "../tests/support/site.ts";

const SECRETS = {
  SMX_SITE_LIVEKIT_SECRET: "lk-secret-3f9a1c7e5d2b4a6c8e0f1a3b5c7d9e1f",
  SMX_SITE_CENTRIFUGO_SECRET: "cf-secret-8b6d4f2a0c9e7b5d3f1a8c6e4b2d0f9a",
  SMX_SITE_CENTRIFUGO_API_KEY: "cf-apikey-1e3c5a7b9d0f2e4c6a8b0d1f3e5c7a9b",
};
const LIVEKIT_KEY = "site-test-key";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with our own Host header and source address (fetch chooses neither). */
function raw(o: {
  port: number;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  localAddress?: string;
  body?: string;
}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const q = httpRequest({
      host: "127.0.0.1",
      port: o.port,
      path: o.path,
      method: o.method ?? "GET",
      headers: o.headers,
      localAddress: o.localAddress,
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => body += d);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    q.on("error", reject);
    if (o.body) q.write(o.body);
    q.end();
  });
}

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `${JSON.stringify(part)} not in ${text.slice(0, 400)}`);
}

function jwtPayload(token: string): Record<string, unknown> {
  const b = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b));
}

const ENGINES = [
  { id: "studio", label: "Studio A" },
  { id: "lab", label: "Lab", groups: ["lab"] },
];

/** The site behind the SSO stand-in, with the test's secrets (given in its environment). */
function startStack(
  centrifugo: { url: string; apiUrl: string },
  routes?: { prefix: string; upstream: string }[],
  livekit: { url: string; apiKey: string; apiSecret: string } = {
    url: "ws://127.0.0.1:7880",
    apiKey: LIVEKIT_KEY,
    apiSecret: SECRETS.SMX_SITE_LIVEKIT_SECRET,
  },
): Promise<SiteStack> {
  return startSiteStack({
    livekit,
    centrifugo: {
      ...centrifugo,
      apiKey: SECRETS.SMX_SITE_CENTRIFUGO_API_KEY,
      tokenSecret: SECRETS.SMX_SITE_CENTRIFUGO_SECRET,
    },
    engines: ENGINES,
    routes,
  });
}

Deno.test("smx site: sign-in through the SSO proxy, scoped tokens, refusals", async (t) => {
  const deadPort = freePort(); // Centrifugo's API: nobody listens here
  const stack = await startStack({
    url: "ws://127.0.0.1:8000/connection/websocket",
    apiUrl: `http://127.0.0.1:${deadPort}/api`,
  });
  const { proxy, site, sitePort } = stack;
  /** Every answer the tests saw: none may carry CORS headers or a secret. */
  const seen: { what: string; headers: Headers | Raw["headers"]; body: string }[] = [];
  const get = async (path: string, init: RequestInit & { cookie?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    const res = await fetch(`${proxy.url}${path}`, { redirect: "manual", ...init, headers });
    const body = await res.text();
    seen.push({ what: `${init.method ?? "GET"} ${path}`, headers: res.headers, body });
    return { res, body };
  };
  const post = (path: string, json: unknown, cookie?: string, extra: Record<string, string> = {}) =>
    get(path, {
      method: "POST",
      cookie,
      headers: { "content-type": "application/json", origin: proxy.url, ...extra },
      body: JSON.stringify(json),
    });
  const rawSeen = async (what: string, p: Promise<Raw>) => {
    const r = await p;
    seen.push({ what, headers: r.headers, body: r.body });
    return r;
  };
  const proxyHost = new URL(proxy.url).host;

  try {
    await t.step(
      "signed out: every /api/wan/* is 401 SignedOut JSON, never a redirect",
      async () => {
        for (
          const [method, path] of [
            ["GET", "/api/wan/session"],
            ["GET", "/api/wan/engines"],
            ["POST", "/api/wan/token"],
            ["POST", "/api/wan/token/connection"],
            ["POST", "/api/wan/token/subscription"],
          ]
        ) {
          const { res, body } = method === "GET"
            ? await get(path)
            : await post(path, { engine: "studio", channel: channelOf("ctl", "studio") });
          assert.deepEqual(res.status, 401, `${method} ${path}`);
          assert.deepEqual(res.type, "basic"); // not "opaqueredirect"
          assert.deepEqual(res.headers.get("location"), null);
          assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
          const j = JSON.parse(body);
          assert.deepEqual(j.error, "signed_out");
          assert.deepEqual(j.login, "/login?rd=/");
          assert(typeof j.message === "string" && j.message.length > 0);
        }
        assert(proxy.forwarded() >= 5, "the API requests crossed the proxy to the site");
      },
    );

    await t.step("signed out: a page navigation is the proxy's 302 to its login", async () => {
      const { res } = await get("/");
      assert.deepEqual(res.status, 302);
      includes(res.headers.get("location") ?? "", "/login");
    });

    const alice = await proxy.signIn("alice", ["staff"]);
    const bob = await proxy.signIn("bob", ["lab", "staff"]);

    await t.step("session: who the proxy signed in", async () => {
      const { res, body } = await get("/api/wan/session", { cookie: alice });
      assert.deepEqual(res.status, 200);
      const s = JSON.parse(body);
      assert.match(s.user.id, /^[0-9a-f]{64}$/); // X-authentik-uid
      assert.deepEqual(s.user.name, "alice");
      assert.deepEqual(s.user.email, "alice@example.test");
      assert.deepEqual(s.user.groups, ["staff"]);
      assert.deepEqual(res.headers.get("cache-control"), "no-store");
    });

    await t.step("engines: only those the user may open; offline without Centrifugo", async () => {
      const a = JSON.parse((await get("/api/wan/engines", { cookie: alice })).body);
      assert.deepEqual(a, [{ id: "studio", label: "Studio A", online: false }]);
      const b = JSON.parse((await get("/api/wan/engines", { cookie: bob })).body);
      assert.deepEqual(b, [
        { id: "studio", label: "Studio A", online: false },
        { id: "lab", label: "Lab", online: false },
      ]);
    });

    let aliceId = "";
    await t.step(
      "join tokens: LiveKit viewer (no publish, hidden), Centrifugo connection",
      async () => {
        aliceId = JSON.parse((await get("/api/wan/session", { cookie: alice })).body).user.id;
        const t0 = Date.now();
        const { res, body } = await post("/api/wan/token", { engine: "studio" }, alice);
        assert.deepEqual(res.status, 200, body);
        const j = JSON.parse(body) as JoinTokens;
        assert.deepEqual(j.engine, "studio");
        assert.deepEqual(j.livekit.url, "ws://127.0.0.1:7880");
        assert.deepEqual(j.livekit.room, roomOf("studio"));
        assert.deepEqual(j.centrifugo.url, "ws://127.0.0.1:8000/connection/websocket");
        assert.deepEqual(j.centrifugo.channels, {
          state: "smx_state:studio",
          params: "smx_params:studio",
          ctl: "smx_ctl:studio",
        });
        for (const at of [j.livekit.expiresAt, j.centrifugo.expiresAt]) {
          assert(at > t0 + 590_000 && at < Date.now() + 601_000, `expiresAt ${at} ≈ now + 10 min`);
        }

        const lk = await new TokenVerifier(LIVEKIT_KEY, SECRETS.SMX_SITE_LIVEKIT_SECRET)
          .verify(j.livekit.token);
        assert.match(lk.sub ?? "", new RegExp(`^viewer:${aliceId}:[0-9a-f]{12}$`));
        assert.deepEqual(lk.name, "alice");
        assert.deepEqual(lk.iss, LIVEKIT_KEY);
        assert(lk.exp! - Math.floor(t0 / 1000) <= 601 && lk.exp! - Math.floor(t0 / 1000) >= 590);
        const v = lk.video!;
        assert.deepEqual(v.roomJoin, true);
        assert.deepEqual(v.room, "smx-studio");
        assert.deepEqual(v.canSubscribe, true);
        assert.deepEqual(v.canPublish, false);
        assert.deepEqual(v.canPublishData, false);
        assert.deepEqual(v.hidden, true);
        assert(!v.roomAdmin && !v.roomCreate && !v.roomList && !v.roomRecord && !v.ingressAdmin);
        assert(!v.canPublishSources?.length);
        // A second page of the same user is another participant.
        const again = JSON.parse((await post("/api/wan/token", { engine: "studio" }, alice)).body);
        const lk2 = jwtPayload(again.livekit.token);
        assert(lk2.sub !== lk.sub);

        const cf = await verifyHs256(j.centrifugo.token, SECRETS.SMX_SITE_CENTRIFUGO_SECRET);
        assert(cf, "Centrifugo connection token verifies with the Centrifugo secret");
        assert.deepEqual(cf.sub, aliceId);
        assert.deepEqual(cf.info, { name: "alice" });
        assert.deepEqual(cf.exp, j.centrifugo.expiresAt / 1000);
        assert.deepEqual(cf.channels, undefined);

        const refresh = await post("/api/wan/token/connection", { engine: "studio" }, alice);
        assert.deepEqual(refresh.res.status, 200);
        const r = JSON.parse(refresh.body);
        assert.deepEqual(Object.keys(r).sort(), ["expiresAt", "token"]);
        assert.deepEqual(
          (await verifyHs256(r.token, SECRETS.SMX_SITE_CENTRIFUGO_SECRET))?.sub,
          aliceId,
        );
      },
    );

    await t.step("subscription tokens: the engine's three channels only", async () => {
      for (const kind of ["state", "params", "ctl"] as const) {
        const channel = channelOf(kind, "studio");
        const { res, body } = await post(
          "/api/wan/token/subscription",
          { engine: "studio", channel },
          alice,
        );
        assert.deepEqual(res.status, 200, body);
        const j = JSON.parse(body);
        const c = await verifyHs256(j.token, SECRETS.SMX_SITE_CENTRIFUGO_SECRET);
        assert.deepEqual(c?.channel, channel);
        assert.deepEqual(c?.sub, aliceId);
        assert.deepEqual(c?.exp, j.expiresAt / 1000);
      }
      const refused: [string, unknown][] = [
        ["another engine's channel", { engine: "studio", channel: channelOf("ctl", "lab") }],
        ["an engine she may not open", { engine: "lab", channel: channelOf("ctl", "lab") }],
        ["a foreign namespace", { engine: "studio", channel: "chat:studio" }],
        ["no namespace", { engine: "studio", channel: "studio" }],
        ["an engine that does not exist", { engine: "ghost", channel: channelOf("ctl", "ghost") }],
        ["a channel with extra text", { engine: "studio", channel: "smx_ctl:studio#x" }],
      ];
      for (const [why, req] of refused) {
        const { res, body } = await post("/api/wan/token/subscription", req, alice);
        assert.deepEqual(res.status, 403, `${why}: ${body}`);
        assert.deepEqual(JSON.parse(body).error, "forbidden");
      }
      for (const engine of ["lab", "ghost"]) {
        assert.deepEqual((await post("/api/wan/token", { engine }, alice)).res.status, 403);
        assert.deepEqual(
          (await post("/api/wan/token/connection", { engine }, alice)).res.status,
          403,
        );
      }
      // bob is in "lab".
      const b = await post(
        "/api/wan/token/subscription",
        { engine: "lab", channel: channelOf("state", "lab") },
        bob,
      );
      assert.deepEqual(b.res.status, 200);
      assert.deepEqual((await post("/api/wan/token", { engine: "lab" }, bob)).res.status, 200);
    });

    await t.step("malformed token requests", async () => {
      const form = await get("/api/wan/token", {
        method: "POST",
        cookie: alice,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: proxy.url },
        body: "engine=studio",
      });
      assert.deepEqual(form.res.status, 415);
      const notJson = await get("/api/wan/token", {
        method: "POST",
        cookie: alice,
        headers: { "content-type": "application/json", origin: proxy.url },
        body: "{",
      });
      assert.deepEqual(notJson.res.status, 400);
      assert.deepEqual((await post("/api/wan/token", { engine: 7 }, alice)).res.status, 400);
      const big = await post("/api/wan/token", { engine: "studio", pad: "x".repeat(5000) }, alice);
      assert.deepEqual(big.res.status, 413);
      assert.deepEqual((await get("/api/wan/token", { cookie: alice })).res.status, 405);
      assert.deepEqual((await get("/api/wan/nothing", { cookie: alice })).res.status, 404);
    });

    await t.step("forged forward-auth headers are ignored", async () => {
      const forged = {
        "x-authentik-uid": "f".repeat(64),
        "x-authentik-username": "mallory",
        "x-authentik-name": "Mallory",
        "x-authentik-groups": "lab|staff|admin",
      };
      // Straight to the site from 127.0.0.2 (not the proxy's address), with the right Host.
      const direct = await rawSeen(
        "forged from 127.0.0.2",
        raw({
          port: sitePort,
          path: "/api/wan/session",
          localAddress: "127.0.0.2",
          headers: { host: proxyHost, ...forged },
        }),
      );
      assert.deepEqual(direct.status, 401, direct.body);
      assert.deepEqual(JSON.parse(direct.body).error, "signed_out");
      const directToken = await rawSeen(
        "forged token from 127.0.0.2",
        raw({
          port: sitePort,
          path: "/api/wan/token",
          method: "POST",
          localAddress: "127.0.0.2",
          headers: {
            host: proxyHost,
            origin: proxy.url,
            "content-type": "application/json",
            ...forged,
          },
          body: JSON.stringify({ engine: "lab" }),
        }),
      );
      assert.deepEqual(directToken.status, 401);
      // Through the proxy without a session: it strips them (and adds none).
      const via = await get("/api/wan/session", { headers: forged });
      assert.deepEqual(via.res.status, 401);
      // Through the proxy with alice's session: still alice.
      const mixed = await get("/api/wan/session", { cookie: alice, headers: forged });
      assert.deepEqual(JSON.parse(mixed.body).user.name, "alice");
      // The same request from the trusted address does sign in (the refusal above is the
      // address's doing, not a malformed request).
      const trusted = await rawSeen(
        "from 127.0.0.1",
        raw({
          port: sitePort,
          path: "/api/wan/session",
          localAddress: "127.0.0.1",
          headers: { host: proxyHost, ...forged },
        }),
      );
      assert.deepEqual(trusted.status, 200);
    });

    await t.step("wrong Host, cross-site Origin and cross-site fetches are refused", async () => {
      const direct = await rawSeen(
        "site by its own address",
        raw({ port: sitePort, path: "/api/wan/session" }),
      );
      assert.deepEqual(direct.status, 421);
      const rebound = await rawSeen(
        "evil Host through the proxy",
        raw({
          port: proxy.port,
          path: "/api/wan/session",
          headers: { host: `evil.test:${proxy.port}`, cookie: alice },
        }),
      );
      assert.deepEqual(rebound.status, 421);
      const rebound2 = await rawSeen(
        "evil Host page",
        raw({ port: proxy.port, path: "/", headers: { host: "evil.test", cookie: alice } }),
      );
      assert.deepEqual(rebound2.status, 421);
      const cross = await post("/api/wan/token", { engine: "studio" }, alice, {
        origin: "https://evil.test",
      });
      assert.deepEqual(cross.res.status, 403);
      const nullOrigin = await post("/api/wan/token", { engine: "studio" }, alice, {
        origin: "null",
      });
      assert.deepEqual(nullOrigin.res.status, 403);
      const crossGet = await get("/api/wan/engines", {
        cookie: alice,
        headers: { "sec-fetch-site": "cross-site" },
      });
      assert.deepEqual(crossGet.res.status, 403);
      const preflight = await get("/api/wan/token", {
        method: "OPTIONS",
        cookie: alice,
        headers: {
          origin: "https://evil.test",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      assert.deepEqual(preflight.res.status, 403);
      const sameSite = await get("/api/wan/engines", {
        cookie: alice,
        headers: { "sec-fetch-site": "same-origin" },
      });
      assert.deepEqual(sameSite.res.status, 200);
    });

    await t.step("the UI: index.html carries the WAN reach meta and the CSP", async () => {
      const { res, body } = await get("/", { cookie: alice });
      assert.deepEqual(res.status, 200, `${body}\n${site.output()}`);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      includes(body, `<meta name="${REACH_META}" content="wan">`);
      assert(
        body.indexOf(REACH_META) < body.indexOf("<script"),
        "the meta comes before any script",
      );
      const csp = res.headers.get("content-security-policy") ?? "";
      for (
        const part of [
          "default-src 'self'",
          "script-src 'self' 'wasm-unsafe-eval'",
          "worker-src 'self'",
          "frame-ancestors 'none'",
        ]
      ) includes(csp, part);
      const connect = csp.split(";").find((d) => d.trim().startsWith("connect-src")) ?? "";
      for (
        const o of [
          "'self'",
          "ws://127.0.0.1:7880",
          "http://127.0.0.1:7880",
          "ws://127.0.0.1:8000",
          "http://127.0.0.1:8000",
        ]
      ) includes(connect, o);
      assert.deepEqual(res.headers.get("x-frame-options"), "DENY");
      const script = /src="(\/assets\/app\.js[^"]*)"/.exec(body)?.[1];
      assert(script, "index.html names its script");
      const js = await fetch(`${proxy.url}${script}`, { headers: { cookie: alice } });
      assert.deepEqual(js.status, 200);
      assert.match(js.headers.get("content-type") ?? "", /javascript/);
      await js.body?.cancel();
      // The LAN pairing page is smx's, not the site's.
      assert.deepEqual((await get("/pair", { cookie: alice })).res.status, 404);
    });

    await t.step("no CORS header and no secret in any answer", () => {
      assert(seen.length > 40, `${seen.length} answers checked`);
      const secrets = Object.values(SECRETS);
      for (const s of seen) {
        const names = s.headers instanceof Headers ? [...s.headers.keys()] : Object.keys(s.headers);
        const cors = names.filter((n) => n.toLowerCase().startsWith("access-control-"));
        assert.deepEqual(cors, [], `${s.what} sent ${cors.join(", ")}`);
        const values = s.headers instanceof Headers
          ? [...s.headers.values()].join("\n")
          : JSON.stringify(s.headers);
        // Tokens' payloads too (base64url in the body).
        const payloads = [...s.body.matchAll(/"(ey[\w-]+\.[\w-]+\.[\w-]+)"/g)].map((m) =>
          JSON.stringify(jwtPayload(m[1]))
        );
        for (const secret of secrets) {
          for (const text of [s.body, values, ...payloads]) {
            assert(!text.includes(secret), `${s.what} reveals a secret`);
          }
        }
      }
    });
  } finally {
    await stack.stop();
  }
});

Deno.test("smx site with the oauth2-proxy preset: its headers, and only from the proxy", async () => {
  const stack = await startSiteStack({
    preset: "oauth2-proxy",
    livekit: {
      url: "ws://127.0.0.1:7880",
      apiKey: LIVEKIT_KEY,
      apiSecret: SECRETS.SMX_SITE_LIVEKIT_SECRET,
    },
    centrifugo: {
      url: "ws://127.0.0.1:8000/connection/websocket",
      apiUrl: `http://127.0.0.1:${freePort()}/api`,
      apiKey: SECRETS.SMX_SITE_CENTRIFUGO_API_KEY,
      tokenSecret: SECRETS.SMX_SITE_CENTRIFUGO_SECRET,
    },
    engines: ENGINES,
  });
  try {
    const { proxy } = stack;
    const anon = await fetch(`${proxy.url}/api/wan/session`, { redirect: "manual" });
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    const cookie = await proxy.signIn("zoe", ["lab", "staff"]);
    const s = await (await fetch(`${proxy.url}/api/wan/session`, { headers: { cookie } })).json();
    assert.match(s.user.id, /^[0-9a-f]{64}$/);
    assert.equal(s.user.name, "zoe");
    assert.equal(s.user.email, "zoe@example.test");
    assert.deepEqual(s.user.groups, ["lab", "staff"]);
    const engines = await (await fetch(`${proxy.url}/api/wan/engines`, { headers: { cookie } }))
      .json();
    assert.deepEqual(engines.map((e: { id: string }) => e.id), ["studio", "lab"]);
    // Authentik's headers mean nothing to this site, and oauth2-proxy's count only from the proxy.
    const host = new URL(proxy.url).host;
    for (
      const [from, headers] of [
        ["127.0.0.1", { "x-authentik-uid": "u", "x-authentik-username": "mallory" }],
        ["127.0.0.2", { "x-forwarded-user": "u", "x-forwarded-groups": "lab" }],
      ] as const
    ) {
      const r = await raw({
        port: stack.sitePort,
        path: "/api/wan/session",
        localAddress: from,
        headers: { host, ...headers },
      });
      assert.equal(r.status, 401, `${from}: ${r.body}`);
    }
  } finally {
    await stack.stop();
  }
});

// ---------------------------------------------------------------- with the real Centrifugo

/** How a subscription attempt ended (it must end, not time out). */
function refused(
  client: {
    on(e: "disconnected", f: (c: { code: number; reason: string }) => void): unknown;
  },
  sub: {
    subscribe(): void;
    on(e: "unsubscribed", f: (c: { code: number; reason: string }) => void): unknown;
    on(e: "subscribed", f: () => void): unknown;
  },
): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timed out"), 5000);
    const done = (how: string) => {
      clearTimeout(timer);
      resolve(how);
    };
    sub.on("unsubscribed", (c) => done(`unsubscribed ${c.code}`));
    sub.on("subscribed", () => done("subscribed"));
    client.on("disconnected", (c) => done(`disconnected ${c.code} ${c.reason}`));
    sub.subscribe();
  });
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("smx site with Centrifugo: presence says online; Centrifugo takes the site's tokens and only for their channel", async (t) => {
  const { Centrifuge, UnauthorizedError } = await import("centrifuge");
  // The stack first (the proxy's origin is Centrifugo's allowed origin), then Centrifugo on the
  // address the site was configured with.
  const cfPort = freePort();
  const stack = await startStack({
    url: `ws://127.0.0.1:${cfPort}/connection/websocket`,
    apiUrl: `http://127.0.0.1:${cfPort}/api`,
  }, [{ prefix: "/connection/", upstream: `http://127.0.0.1:${cfPort}` }]);
  const { proxy } = stack;
  let cf: Awaited<ReturnType<typeof startCentrifugo>> | undefined;
  const clients: InstanceType<typeof Centrifuge>[] = [];
  try {
    // The project's Centrifugo config (server/wan/relay/centrifugo_config.ts), the site's secrets.
    cf = await startCentrifugo({
      port: cfPort,
      origin: proxy.url,
      tokenSecret: SECRETS.SMX_SITE_CENTRIFUGO_SECRET,
      apiKey: SECRETS.SMX_SITE_CENTRIFUGO_API_KEY,
      logLevel: "warn",
    });
    const alice = await proxy.signIn("alice", ["staff"]);
    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`${proxy.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          cookie: alice,
          origin: proxy.url,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "manual",
      });
      return { status: res.status, json: await res.json() };
    };
    const studioOnline = async () =>
      (await api("/api/wan/engines")).json.find((e: { id: string }) => e.id === "studio")
        ?.online === true;

    await t.step("no engine connected: offline", async () => {
      assert.equal(await studioOnline(), false);
    });

    // smx's side, as its relay connects: user engine:studio, present in smx_ctl:studio.
    const secret = SECRETS.SMX_SITE_CENTRIFUGO_SECRET;
    const exp = Math.floor(Date.now() / 1000) + 600;
    const engine = new Centrifuge(cf.url, {
      token: await signHs256({ sub: engineUser("studio"), exp }, secret),
      websocket: WebSocket,
    });
    clients.push(engine);
    const engineCtl = engine.newSubscription(channelOf("ctl", "studio"), {
      token: await signHs256(
        { sub: engineUser("studio"), channel: channelOf("ctl", "studio"), exp },
        secret,
      ),
    });

    await t.step("engine present in smx_ctl: online (within the 2 s cache)", async () => {
      engine.connect();
      engineCtl.subscribe();
      await engineCtl.ready(5000);
      await waitFor("studio online", studioOnline);
    });

    // A page's side: tokens only from the site, through the proxy, as the UI gets them.
    const join = await api("/api/wan/token", { engine: "studio" });
    assert.equal(join.status, 200);
    const newPage = () => {
      const c = new Centrifuge(join.json.centrifugo.url, {
        token: join.json.centrifugo.token,
        getToken: async () => {
          const r = await api("/api/wan/token/connection", { engine: "studio" });
          if (r.status === 401 || r.status === 403) throw new UnauthorizedError("signed out");
          return r.json.token;
        },
        websocket: WebSocket,
      });
      clients.push(c);
      c.connect();
      return c;
    };
    const page = newPage();
    const subTokenFor = (engineId: string) => async (ctx: { channel: string }) => {
      const r = await api("/api/wan/token/subscription", {
        engine: engineId,
        channel: ctx.channel,
      });
      if (r.status === 401 || r.status === 403) throw new UnauthorizedError(r.json.error);
      return r.json.token;
    };

    await t.step("a page subscribes to its engine's channels with the site's tokens", async () => {
      await page.ready(5000);
      for (const kind of ["state", "params", "ctl"] as const) {
        const sub = page.newSubscription(channelOf(kind, "studio"), {
          getToken: subTokenFor("studio"),
        });
        sub.subscribe();
        await sub.ready(5000);
      }
      // The ctl token is the publish grant; state is smx's alone.
      const ctl = page.getSubscription(channelOf("ctl", "studio"))!;
      await ctl.publish({ v: 1, type: "demand", tiles: [] });
      const state = page.getSubscription(channelOf("state", "studio"))!;
      await assert.rejects(state.publish({ forged: true }));
      // A page in smx_ctl is not the engine: still online only thanks to the engine.
      assert.equal(await studioOnline(), true);
    });

    await t.step("another engine's channel: the site refuses, Centrifugo refuses", async () => {
      // Asked of the site: 403, and the client gives up (getToken's UnauthorizedError).
      const viaSite = page.newSubscription(channelOf("ctl", "lab"), {
        getToken: subTokenFor("lab"),
      });
      assert.equal(await refused(page, viaSite), "unsubscribed 1");
      page.removeSubscription(viaSite);
      // A studio token presented for lab's channel: Centrifugo drops the connection for good.
      const studioToken = (await api("/api/wan/token/subscription", {
        engine: "studio",
        channel: channelOf("ctl", "studio"),
      })).json.token;
      const smuggler = newPage();
      await smuggler.ready(5000);
      const smuggled = smuggler.newSubscription(channelOf("ctl", "lab"), { token: studioToken });
      assert.equal(await refused(smuggler, smuggled), "disconnected 3500 invalid token");
      // No token at all: permission denied.
      const bare = page.newSubscription(channelOf("state", "lab"));
      assert.equal(await refused(page, bare), "unsubscribed 103");
      page.removeSubscription(bare);
      // The page itself is still connected and subscribed to its own channels.
      assert.equal(page.state, "connected");
      assert.equal(page.getSubscription(channelOf("state", "studio"))?.state, "subscribed");
    });

    await t.step("through the SSO proxy's WebSocket relay, both ways", async () => {
      // Centrifugo on the site's own origin, behind the same sign-in (a deployment may do this).
      const cookie = alice;
      const origin = proxy.url;
      class SignedInSocket extends WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, { protocols, headers: { cookie, origin } } as unknown as string[]);
        }
      }
      const viaProxy = new Centrifuge(`${proxy.url.replace("http", "ws")}/connection/websocket`, {
        token: join.json.centrifugo.token,
        websocket: SignedInSocket,
      });
      clients.push(viaProxy);
      viaProxy.connect();
      await viaProxy.ready(5000);
      const state = viaProxy.newSubscription(channelOf("state", "studio"), {
        getToken: subTokenFor("studio"),
      });
      const got = new Promise<unknown>((resolve) =>
        state.on("publication", (c) => resolve(c.data))
      );
      state.subscribe();
      await state.ready(5000);
      const res = await fetch(`${cf!.apiUrl}/publish`, {
        method: "POST",
        headers: { "x-api-key": SECRETS.SMX_SITE_CENTRIFUGO_API_KEY },
        body: JSON.stringify({ channel: channelOf("state", "studio"), data: { n: 1 } }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(await got, { n: 1 });
      // page → engine through the relay.
      const heard = new Promise<unknown>((resolve) =>
        engineCtl.on("publication", (c) => resolve(c.data))
      );
      const ctl = viaProxy.newSubscription(channelOf("ctl", "studio"), {
        getToken: subTokenFor("studio"),
      });
      ctl.subscribe();
      await ctl.ready(5000);
      await ctl.publish({ v: 1, type: "demand", tiles: [] });
      assert.deepEqual(await heard, { v: 1, type: "demand", tiles: [] });
      viaProxy.disconnect();
      // Without a session the proxy answers the upgrade with its login redirect: no socket.
      const anon = new WebSocket(`${proxy.url.replace("http", "ws")}/connection/websocket`);
      const outcome = await new Promise<string>((resolve) => {
        anon.onopen = () => resolve("open");
        anon.onerror = () => resolve("error");
      });
      assert.equal(outcome, "error");
    });

    await t.step("engine gone: offline again", async () => {
      engine.disconnect();
      await waitFor("studio offline", async () => !(await studioOnline()));
    });
  } finally {
    for (const c of clients) c.disconnect();
    await cf?.stop();
    await stack.stop();
  }
});

// ---------------------------------------------------------------- with the real LiveKit

Deno.test("smx site with LiveKit: the server takes the viewer token as subscribe-only and hidden", async () => {
  const lk = await startLiveKit({ logLevel: "warn" });
  let stack: SiteStack | undefined;
  let signal: WebSocket | undefined;
  try {
    stack = await startStack(
      {
        url: "ws://127.0.0.1:8000/connection/websocket",
        apiUrl: `http://127.0.0.1:${freePort()}/api`,
      },
      undefined,
      // The server's key pair (tests/support/livekit.ts makes one).
      { url: lk.url, apiKey: lk.apiKey, apiSecret: lk.apiSecret },
    );
    const { proxy } = stack;
    const cookie = await proxy.signIn("alice", ["staff"]);
    const res = await fetch(`${proxy.url}/api/wan/token`, {
      method: "POST",
      headers: { cookie, origin: proxy.url, "content-type": "application/json" },
      body: JSON.stringify({ engine: "studio" }),
    });
    assert.equal(res.status, 200);
    const j = await res.json() as JoinTokens;
    assert.equal(j.livekit.url, lk.url);
    // LiveKit's own check of the token (what livekit-client asks after a failed join).
    const v = await fetch(`${lk.httpUrl}/rtc/validate?access_token=${j.livekit.token}`);
    assert.equal(v.status, 200, await v.text());
    // Join the room's signalling (no media needed to become a participant) and ask the server
    // what it made of the grant.
    signal = new WebSocket(
      `${lk.url}/rtc?access_token=${j.livekit.token}&protocol=16&sdk=js&auto_subscribe=1`,
    );
    signal.binaryType = "arraybuffer";
    await new Promise<void>((resolve, reject) => {
      signal!.onmessage = () => resolve();
      signal!.onerror = () => reject(new Error("LiveKit refused the viewer's signal connection"));
    });
    const svc = new RoomServiceClient(lk.httpUrl, lk.apiKey, lk.apiSecret);
    const people = await svc.listParticipants(roomOf("studio"));
    assert.equal(people.length, 1);
    const p = people[0];
    assert.match(p.identity, /^viewer:[0-9a-f]{64}:[0-9a-f]{12}$/);
    assert.equal(p.name, "alice");
    assert.equal(p.permission?.canSubscribe, true);
    assert.equal(p.permission?.canPublish, false);
    assert.equal(p.permission?.canPublishData, false);
    assert.equal(p.permission?.hidden, true);
    assert.deepEqual(p.permission?.canPublishSources, []);
    // The token names its room: no other room has this viewer.
    assert.equal((await svc.listParticipants(roomOf("lab"))).length, 0);
  } finally {
    signal?.close();
    await stack?.stop();
    await lk.stop();
  }
});

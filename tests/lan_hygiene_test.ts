/**
 * Request hygiene on a real LAN (network namespace + veth): forged Host (DNS rebinding) and
 * foreign Origin (cross-site WebSocket hijacking, CSRF) are refused on the LAN listener and on
 * loopback, even with a valid session; every answer carries the security headers and no CORS
 * header; nothing a LAN device can fetch holds the secret or the code; 1,000 wrong secrets are
 * rate-limited and never pair; the connection ceiling holds for LAN sockets too.
 */
import assert from "node:assert/strict";
import { CLOSE_PAIRING_EXPIRED } from "../protocol/lan.ts";
import {
  createLan,
  type HttpResult,
  type Lan,
  type LanAgent,
  type LanSmx,
  rawHttp,
  startSmxOnLan,
} from "./support/netns.ts";

const JSON_POST = { "content-type": "application/json" };
const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};
/** Sockets a paired device may hold at once in this test: --max-connections. */
const CEILING = 6;

function assertSecured(r: HttpResult, what: string) {
  const h = r.headers;
  assert.match(h["content-security-policy"] ?? "", /default-src 'self'/, what);
  assert.match(h["content-security-policy"] ?? "", /frame-ancestors 'none'/, what);
  assert.equal(h["x-content-type-options"], "nosniff", what);
  assert.equal(h["referrer-policy"], "no-referrer", what);
  assert.equal(h["x-frame-options"], "DENY", what);
  const cors = Object.keys(h).filter((k) => k.startsWith("access-control-"));
  assert.deepEqual(cors, [], `${what}: no CORS header`);
}

Deno.test({
  name: "LAN request hygiene on a real LAN (network namespace + veth)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = performance.now();
    const lan: Lan = await createLan();
    let smx: LanSmx | undefined;
    try {
      smx = await startSmxOnLan(lan, ["--max-connections", String(CEILING)]);
      const agent: LanAgent = await lan.agent();
      const s = smx;
      const origin = s.lanOrigin;
      const host = `${lan.hostAddress}:${s.port}`;
      const paired = await agent.http({
        url: `${origin}/pair`,
        method: "POST",
        headers: { ...JSON_POST, origin },
        body: JSON.stringify({ secret: await s.secret() }),
      });
      assert.equal(paired.status, 200, paired.body);
      const cookie = paired.headers["set-cookie"].split(";")[0];
      const ok: boolean[] = [];

      ok.push(
        await t.step("a forged Host is refused 421 on the LAN, even with a session", async () => {
          const forged = ["evil.example", `evil.example:${s.port}`, `localhost:${s.port}`];
          forged.push(`${lan.hostAddress}:${s.port + 1}`, `127.0.0.1:${s.port}`, "");
          for (const h of forged) {
            for (const path of ["/", "/hello", "/pair"]) {
              const r = await agent.http({ url: `${origin}${path}`, headers: { host: h, cookie } });
              assert.equal(r.status, 421, `Host ${JSON.stringify(h)} ${path}: ${r.status}`);
            }
            const ws = await agent.http({
              url: `${origin}/ws/params`,
              headers: { host: h, cookie, origin, ...UPGRADE },
            });
            assert.equal(ws.status, 421, `upgrade with Host ${h}`);
          }
          // The right one, for contrast.
          assert.equal(
            (await agent.http({ url: `${origin}/hello`, headers: { cookie } })).status,
            200,
          );
        }),
      );

      ok.push(
        await t.step("a foreign or missing Origin is refused on upgrades and writes", async () => {
          const foreign = [
            "http://evil.example",
            `http://evil.example:${s.port}`,
            `http://${lan.hostAddress}:${s.port + 1}`,
            `https://${host}`,
            "null",
          ];
          for (const o of foreign) {
            for (const p of ["/ws/params", "/ws/video"]) {
              const r = await agent.http({
                url: `${origin}${p}`,
                headers: { cookie, origin: o, ...UPGRADE },
              });
              assert.equal(r.status, 403, `upgrade ${p} from ${o}`);
              const w = await agent.ws(`ws://${host}${p}`, { cookie, origin: o });
              assert.equal(w.opened, false, `WebSocket ${p} from ${o} opened`);
            }
            const post = await agent.http({
              url: `${origin}/pair`,
              method: "POST",
              headers: { ...JSON_POST, origin: o },
              body: JSON.stringify({ secret: await s.secret() }),
            });
            assert.equal(post.status, 403, `POST /pair from ${o}`);
            const pre = await agent.http({
              url: `${origin}/pair`,
              method: "OPTIONS",
              headers: { origin: o, "access-control-request-method": "POST" },
            });
            assert.equal(pre.status, 403, `preflight from ${o}`);
            assertSecured(pre, `preflight from ${o}`);
          }
          const noOrigin = await agent.http({
            url: `${origin}/ws/params`,
            headers: { cookie, ...UPGRADE },
          });
          assert.equal(noOrigin.status, 403, "upgrade without Origin");
          const postNoOrigin = await agent.http({
            url: `${origin}/pair`,
            method: "POST",
            headers: JSON_POST,
            body: JSON.stringify({ secret: await s.secret() }),
          });
          assert.equal(postNoOrigin.status, 403, "POST without Origin");
          // A cross-site form post cannot send JSON: refused even from our own origin.
          const form = await agent.http({
            url: `${origin}/pair`,
            method: "POST",
            headers: { origin, "content-type": "application/x-www-form-urlencoded" },
            body: "secret=x",
          });
          assert.equal(form.status, 415);
        }),
      );

      ok.push(
        await t.step("loopback: forged Host and foreign Origin refused as before", async () => {
          const lo = `http://127.0.0.1:${s.port}`;
          for (const h of ["evil.example", `evil.example:${s.port}`, host]) {
            const r = await rawHttp({ url: `${lo}/hello`, headers: { host: h } });
            assert.equal(r.status, 421, `loopback Host ${h}`);
          }
          for (const o of ["http://evil.example", origin]) {
            const up = await rawHttp({
              url: `${lo}/ws/params`,
              headers: { origin: o, ...UPGRADE },
            });
            assert.equal(up.status, 403, `loopback upgrade from ${o}`);
            const rot = await rawHttp({
              url: `${lo}/api/lan/rotate`,
              method: "POST",
              headers: { origin: o },
              body: "{}",
            });
            assert.equal(rot.status, 403, `loopback rotate from ${o}`);
          }
          assert.equal((await s.status()).devices.length, 1, "no rotation happened");
        }),
      );

      ok.push(
        await t.step(
          "every answer carries the security headers; secrets never reach the LAN",
          async () => {
            const { code } = await s.status();
            const secret = await s.secret();
            const asks: [string, Record<string, string>, string?][] = [
              ["/", { cookie }],
              ["/index.html", { cookie }],
              ["/hello", { cookie }],
              ["/api/stats", { cookie }],
              ["/assets/app.js", { cookie }],
              ["/pair", {}],
              ["/pair", { cookie }],
              ["/assets/pair.js", {}],
              ["/hello", {}],
              ["/api/lan", { cookie }],
              ["/qr.svg", { cookie }],
              ["/pair", { origin, ...JSON_POST }, JSON.stringify({ code: "1" })],
            ];
            for (const [path, headers, body] of asks) {
              const r = await agent.http({
                url: `${origin}${path}`,
                headers,
                ...(body ? { method: "POST", body } : {}),
              });
              const what = `${body ? "POST" : "GET"} ${path} (${r.status})`;
              assertSecured(r, what);
              assert.ok(!r.body.includes(secret), `${what} holds the secret`);
              assert.ok(!r.body.includes(code!), `${what} holds the code`);
              if (path === "/pair" || path.startsWith("/api/") || path === "/hello") {
                assert.equal(r.headers["cache-control"], "no-store", what);
              }
            }
          },
        ),
      );

      ok.push(
        await t.step("1,000 wrong secrets are rate-limited and never pair", async () => {
          const before = (await s.status()).devices.length;
          const started = performance.now();
          const flood = await agent.httpMany({
            url: `${origin}/pair`,
            method: "POST",
            headers: { ...JSON_POST, origin },
            body: JSON.stringify({ secret: "A".repeat(32) }),
          }, 1000);
          const ms = performance.now() - started;
          console.log(
            `1,000 wrong secrets in ${Math.round(ms)} ms: ${JSON.stringify(flood.statuses)}`,
          );
          assert.equal(flood.statuses["200"] ?? 0, 0, "a wrong secret paired");
          assert.ok(
            (flood.statuses["401"] ?? 0) <= 5,
            "at most the per-peer burst is answered 401",
          );
          assert.ok((flood.statuses["429"] ?? 0) >= 995, JSON.stringify(flood.statuses));
          const limited = JSON.parse(flood.bodies["429"]);
          assert.equal(limited.error, "rate_limited");
          assert.match(limited.message, /too many wrong pairing attempts: try again in \d+ s/);
          assert.ok(limited.retryAfterS >= 1 && limited.retryAfterS <= 12);
          const one = await agent.http({
            url: `${origin}/pair`,
            method: "POST",
            headers: { ...JSON_POST, origin },
            body: JSON.stringify({ secret: "B".repeat(32) }),
          });
          assert.equal(one.status, 429);
          // Retry-After says what the JSON says (the wait shrinks as the limit refills).
          const wait = JSON.parse(one.body).retryAfterS;
          assert.equal(one.headers["retry-after"], String(wait));
          assert.ok(wait >= 1 && wait <= limited.retryAfterS, `${wait} s`);
          // While limited the code is not even checked; the (unguessable) QR secret still pairs.
          const code = await agent.http({
            url: `${origin}/pair`,
            method: "POST",
            headers: { ...JSON_POST, origin },
            body: JSON.stringify({ code: (await s.status()).code }),
          });
          assert.equal(code.status, 429, "the right code while limited");
          assert.equal((await s.status()).devices.length, before, "no session from the flood");
          assert.ok(ms < 60_000, `bounded: ${ms} ms`);
        }),
      );

      ok.push(
        await t.step(
          "a peer hoarding silent connections is bounded; loopback is untouched",
          async () => {
            // LAN connections are bounded per peer (64) and over all peers (a quarter of the
            // ceiling, at least 16: here 16, the tighter one).
            try {
              const { closed } = await agent.hold(`${origin}/`, 80, 500);
              assert.equal(closed, 80 - 16, "connections past the LAN bound closed at once");
              const hello = await fetch(`${s.loopback}/hello`);
              assert.equal(hello.status, 200, "the smx machine's page still works");
              await hello.body?.cancel();
            } finally {
              await agent.release();
            }
            await new Promise((r) => setTimeout(r, 200));
            const again = await agent.http({ url: `${origin}/hello`, headers: { cookie } });
            assert.equal(again.status, 200, "served again once they are gone");
          },
        ),
      );

      ok.push(
        await t.step("the connection ceiling holds for LAN sockets (1013 past it)", async () => {
          const open: number[] = [];
          let refused = 0;
          for (let i = 0; i < CEILING + 2; i++) {
            const w = await agent.ws(`ws://${host}/ws/params`, { origin, cookie });
            if (!w.opened) continue;
            const c = await agent.wsClosed(w.handle!, 300);
            if (c.close?.code === 1013) refused++;
            else if (c.close === null) open.push(w.handle!);
          }
          assert.ok(open.length <= CEILING, `${open.length} open past a ceiling of ${CEILING}`);
          assert.ok(refused >= 2, `${refused} refused with 1013`);
          // The ceiling is shared: loopback is refused too while LAN sockets fill it.
          assert.equal((await fetch(`${s.loopback}/api/lan`)).status, 503);
          // One socket fewer and the owner gets through; rotation reaches every open LAN socket.
          await agent.wsClose(open.pop()!);
          let rotated = 0;
          for (let i = 0; i < 50 && rotated !== 200; i++) {
            await new Promise((r) => setTimeout(r, 20));
            rotated = (await fetch(`${s.loopback}/api/lan/rotate`, { method: "POST" })).status;
          }
          assert.equal(rotated, 200);
          for (const h of open) {
            assert.equal((await agent.wsClosed(h, 3000)).close?.code, CLOSE_PAIRING_EXPIRED);
          }
        }),
      );

      if (ok.includes(false)) console.error(`smx output:\n${s.proc.output().slice(-4000)}`);
      assert.ok(!s.proc.output().includes(await s.secret()), "the secret is in smx's output");
    } finally {
      await smx?.close();
      await lan.close();
      console.log(`LAN hygiene test: ${Math.round(performance.now() - t0)} ms`);
    }
  },
});

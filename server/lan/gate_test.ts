import assert from "node:assert/strict";
import { sessionCookieName } from "../../protocol/lan.ts";
import { LanGate } from "./gate.ts";
import { Sessions } from "./sessions.ts";

const L = { address: "10.0.0.1", port: 7300 };
const OWN = "http://10.0.0.1:7300";

async function setup() {
  const sessions = new Sessions();
  const made = (await sessions.create("10.0.0.2", "t"))!;
  return {
    gate: new LanGate(sessions),
    cookie: `${sessionCookieName(7300)}=${made.token}`,
    id: made.session.id,
  };
}

const req = (path: string, headers: Record<string, string>, method = "GET") =>
  new Request(`http://10.0.0.1:7300${path}`, { method, headers });

Deno.test("Host must be exactly the listener's address and port", async () => {
  const { gate, cookie } = await setup();
  for (const host of ["evil.example:7300", "10.0.0.1", "10.0.0.1:7301", "localhost:7300", ""]) {
    const v = await gate.check(req("/", { host, cookie }), L, "10.0.0.2");
    assert.equal(v.ok ? 200 : v.status, 421, host);
  }
  assert.ok((await gate.check(req("/", { host: "10.0.0.1:7300", cookie }), L, "10.0.0.2")).ok);
});

Deno.test("Origin: foreign refused anywhere, required on upgrades and writes", async () => {
  const { gate, cookie } = await setup();
  const h = { host: "10.0.0.1:7300", cookie };
  const status = async (r: Request) => {
    const v = await gate.check(r, L, "10.0.0.2");
    return v.ok ? 200 : v.status;
  };
  const ws = { upgrade: "websocket", connection: "upgrade" };
  assert.equal(await status(req("/ws/video", { ...h, ...ws, origin: "http://evil.example" })), 403);
  assert.equal(await status(req("/ws/video", { ...h, ...ws })), 403, "upgrade without Origin");
  assert.equal(await status(req("/ws/video", { ...h, ...ws, origin: OWN })), 200);
  assert.equal(await status(req("/pair", { ...h }, "POST")), 403, "POST without Origin");
  assert.equal(await status(req("/pair", { ...h, origin: "null" }, "POST")), 403);
  assert.equal(await status(req("/pair", { ...h, origin: OWN }, "POST")), 200);
  assert.equal(await status(req("/hello", { ...h, origin: "http://10.0.0.1:7301" })), 403);
});

Deno.test("without a session: /pair only; a page load of / goes to /pair", async () => {
  const { gate } = await setup();
  const h = { host: "10.0.0.1:7300" };
  const v = async (r: Request) => await gate.check(r, L, "10.0.0.2");
  for (const p of ["/", "/hello", "/api/stats", "/assets/app.js", "/index.html", "/ws/params"]) {
    const r = await v(req(p, h));
    assert.equal(r.ok ? 200 : r.status, 401, p);
  }
  const nav = await v(req("/", { ...h, "sec-fetch-mode": "navigate", accept: "text/html" }));
  assert.ok(!nav.ok && nav.status === 303 && nav.response.headers.get("location") === "/pair");
  const pairPage = await v(req("/pair", h));
  assert.ok(pairPage.ok && pairPage.peer.sessionId === undefined);
  assert.ok((await v(req("/assets/pair.js?v=1", h))).ok);
  assert.ok((await v(req("/pair", { ...h, origin: OWN }, "POST"))).ok);
  const bad = await v(req("/", { ...h, cookie: `${sessionCookieName(7300)}=forged` }));
  assert.equal(bad.ok ? 200 : bad.status, 401);
});

Deno.test("with a session: the peer carries it; the loopback-only API stays refused", async () => {
  const { gate, cookie, id } = await setup();
  const h = { host: "10.0.0.1:7300", cookie };
  const ok = await gate.check(req("/hello", h), L, "::ffff:10.0.0.2");
  assert.deepEqual(ok.ok && ok.peer, { reach: "lan", sessionId: id, address: "10.0.0.2" });
  for (const p of ["/api/lan", "/api/lan/rotate", "/qr.svg"]) {
    const r = await gate.check(req(p, h), L, "10.0.0.2");
    assert.equal(r.ok ? 200 : r.status, 403, p);
  }
  // The cookie of another port (another smx on this machine) is not ours.
  const other = await gate.check(
    req("/hello", { host: "10.0.0.1:7300", cookie: cookie.replace("_7300=", "_7301=") }),
    L,
    "10.0.0.2",
  );
  assert.equal(other.ok ? 200 : other.status, 401);
});

Deno.test("IPv6 listeners: Host and Origin in brackets", async () => {
  const { gate, cookie } = await setup();
  const l6 = { address: "2001:db8::1", port: 7300 };
  const r = new Request("http://[2001:db8::1]:7300/ws/video", {
    headers: {
      host: "[2001:db8::1]:7300",
      origin: "http://[2001:db8::1]:7300",
      cookie,
      upgrade: "websocket",
    },
  });
  assert.ok((await gate.check(r, l6, "2001:db8::2")).ok);
});

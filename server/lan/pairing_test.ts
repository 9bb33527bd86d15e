import assert from "node:assert/strict";
import { CLOSE_PAIRING_EXPIRED } from "../../protocol/lan.ts";
import { AttemptLimit } from "./attempts.ts";
import { Pairing } from "./pairing.ts";
import { Sessions } from "./sessions.ts";

const peer = { address: "10.0.0.2", userAgent: "test" };

function setup(max?: number) {
  const sessions = new Sessions({ max });
  const pairing = new Pairing(sessions, new AttemptLimit());
  return { sessions, pairing };
}

/** A stand-in WebSocket: open, records how it was closed. */
function fakeSocket() {
  const t = new EventTarget() as EventTarget & {
    readyState: number;
    closedWith?: [number, string];
    close(code: number, reason: string): void;
  };
  t.readyState = WebSocket.OPEN;
  t.close = (code, reason) => {
    t.closedWith = [code, reason];
    t.readyState = WebSocket.CLOSED;
    t.dispatchEvent(new Event("close"));
  };
  return t;
}

Deno.test("secret and code make sessions; the secret is 192 bits, the code 8 digits", async () => {
  const { sessions, pairing } = setup();
  assert.match(pairing.state.secret, /^[A-Za-z0-9_-]{32}$/);
  assert.match(pairing.state.code, /^\d{8}$/);
  const a = await pairing.pair({ secret: pairing.state.secret }, peer);
  assert.equal(a.kind, "paired");
  const b = await pairing.pair({ code: pairing.state.code.replace(/(\d{4})/, "$1 ") }, peer);
  assert.equal(b.kind, "paired");
  if (a.kind !== "paired" || b.kind !== "paired") return;
  assert.notEqual(a.token, b.token);
  assert.equal((await sessions.find(a.token, "10.0.0.9"))?.id, a.session.id);
  assert.equal(sessions.list().find((d) => d.id === a.session.id)?.address, "10.0.0.9");
  assert.equal(await sessions.find("not-a-token", "x"), undefined);
});

Deno.test("wrong attempts: 401 five times, then 429; a right code is refused while limited", async () => {
  const { pairing } = setup();
  const kinds: string[] = [];
  for (let i = 0; i < 7; i++) kinds.push((await pairing.pair({ code: "00000000" }, peer)).kind);
  assert.deepEqual(kinds, [
    "wrong",
    "wrong",
    "wrong",
    "wrong",
    "wrong",
    "rate_limited",
    "rate_limited",
  ]);
  const right = await pairing.pair({ code: pairing.state.code }, peer);
  assert.equal(right.kind, "rate_limited");
  if (right.kind === "rate_limited") assert.ok(right.retryAfterS >= 1 && right.retryAfterS <= 12);
  // A wrong secret is limited too, a right one still pairs (192 bits: see pairing.ts).
  assert.equal((await pairing.pair({ secret: "x".repeat(32) }, peer)).kind, "rate_limited");
  assert.equal((await pairing.pair({ secret: pairing.state.secret }, peer)).kind, "paired");
});

Deno.test("rotation: new secret and code, every session ends, its sockets close 4401", async () => {
  const { sessions, pairing } = setup();
  const old = { ...pairing.state };
  const a = await pairing.pair({ secret: old.secret }, peer);
  assert.equal(a.kind, "paired");
  if (a.kind !== "paired") return;
  const ws = fakeSocket();
  const counts: number[] = [];
  sessions.onConnectedChange((n) => counts.push(n));
  assert.ok(sessions.attach(a.session.id, ws as unknown as WebSocket, CLOSE_PAIRING_EXPIRED, ""));
  assert.equal(sessions.connected(), 1);
  const rotated: string[] = [];
  pairing.onRotate((s) => rotated.push(s.code));
  assert.equal(pairing.rotate(), 1);
  assert.equal(ws.closedWith?.[0], CLOSE_PAIRING_EXPIRED);
  assert.deepEqual(counts, [1, 0]);
  assert.deepEqual(rotated, [pairing.state.code]);
  assert.notEqual(pairing.state.secret, old.secret);
  assert.equal(await sessions.find(a.token, "x"), undefined, "the old cookie is dead");
  assert.equal((await pairing.pair({ secret: old.secret }, peer)).kind, "wrong");
  // A socket arriving for the ended session is closed at once.
  const late = fakeSocket();
  assert.ok(
    !sessions.attach(a.session.id, late as unknown as WebSocket, CLOSE_PAIRING_EXPIRED, ""),
  );
  assert.equal(late.closedWith?.[0], CLOSE_PAIRING_EXPIRED);
});

Deno.test("a full table forgets the least recently seen unconnected device", async () => {
  const { sessions, pairing } = setup(2);
  const p = () => pairing.pair({ secret: pairing.state.secret }, peer);
  const a = await p(), b = await p();
  if (a.kind !== "paired" || b.kind !== "paired") throw new Error("not paired");
  sessions.attach(b.session.id, fakeSocket() as unknown as WebSocket, 4401, "");
  const c = await p();
  assert.equal(c.kind, "paired");
  assert.deepEqual(
    sessions.list().map((d) => d.id).sort(),
    [b.session.id, c.kind === "paired" ? c.session.id : ""].sort(),
  );
  sessions.attach(
    c.kind === "paired" ? c.session.id : "",
    fakeSocket() as unknown as WebSocket,
    4401,
    "",
  );
  assert.equal((await p()).kind, "too_many_devices", "every slot holds a connected device");
});

Deno.test("one device cannot hold more than its share of sockets (1013 past it)", async () => {
  const sessions = new Sessions({ maxSockets: 2 });
  const made = (await sessions.create("10.0.0.2", "t"))!;
  const ws = [fakeSocket(), fakeSocket(), fakeSocket()];
  const attached = ws.map((w) =>
    sessions.attach(made.session.id, w as unknown as WebSocket, 4401, "")
  );
  assert.deepEqual(attached, [true, true, false]);
  assert.equal(ws[2].closedWith?.[0], 1013);
  ws[0].close(1000, "");
  assert.ok(sessions.attach(made.session.id, fakeSocket() as unknown as WebSocket, 4401, ""));
});

/**
 * Bad input on both parameter sockets (smx's /ws/params and the engine's /ws/hub): every invalid
 * write is refused with a clear error, never reaches the engine, and neither process goes down.
 */
import assert from "node:assert/strict";
import { ParamMirror, ParamWriteError } from "../server/engine/param_mirror.ts";
import { type DemoProc, engineDebug, startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { startParamServer } from "./support/param_server.ts";

const uniq = () => crypto.randomUUID().slice(0, 8);

/** A raw WebSocket that collects parsed server messages. */
async function rawSocket(url: string) {
  const ws = new WebSocket(url);
  const msgs: Record<string, unknown>[] = [];
  let closeCode = 0;
  ws.onmessage = (e) => msgs.push(JSON.parse(e.data));
  const closed = new Promise<number>((r) => ws.onclose = (e) => r(closeCode = e.code));
  await new Promise((res, rej) => (ws.onopen = res, ws.onerror = rej));
  const next = async (pred: (m: Record<string, unknown>) => boolean, what: string) => {
    await waitFor(() => msgs.some(pred), what, 5000);
    return msgs.find(pred)!;
  };
  return { ws, msgs, closed, next, closeCode: () => closeCode };
}

/** Sends one text frame whose payload is not UTF-8, over a hand-made WebSocket handshake. */
async function sendRawBadUtf8Text(
  port: number,
  path: string,
): Promise<{ text: string; ended: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  await conn.write(enc.encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const payload = new Uint8Array([0xc3, 0x28, 0xff, 0xfe]); // invalid UTF-8
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array([
    0x81,
    0x80 | payload.length,
    ...mask,
    ...payload.map((b, i) => b ^ mask[i % 4]),
  ]);
  await conn.write(frame);
  const buf = new Uint8Array(4096);
  let text = "";
  let ended = false;
  const timer = setTimeout(() => conn.close(), 3000); // a server that ignores it: ended stays false
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder("latin1").decode(buf.subarray(0, n));
    }
    ended = true;
  } catch (e) {
    ended = !(e instanceof Deno.errors.BadResource); // reset by peer counts as ended
  }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return { text, ended };
}

async function setup() {
  const dir = Deno.makeTempDirSync({ prefix: "smx-writes-" });
  const engine = await startDemoEngine({ name: `writes-${uniq()}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  await mirror.whenConnected(10000);
  const smx = startParamServer(mirror, { ratePerSecond: 200, burst: 400 });
  return {
    engine,
    mirror,
    smx,
    cleanup: async () => {
      await smx.close();
      await mirror.stop();
      await engine.kill();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

const setsReceived = async (e: DemoProc) =>
  ((await engineDebug(e, "/debug/stats")) as { setsReceived: number }).setsReceived;

Deno.test("params: invalid writes through smx are refused clearly and never reach the engine", async () => {
  const { engine, mirror, smx, cleanup } = await setup();
  try {
    const c = await rawSocket(smx.url);
    await c.next((m) => m.type === "snapshot", "snapshot");
    const before = await setsReceived(engine);
    const cases: [unknown, string, RegExp][] = [
      [
        { id: 1, path: "Scene.Shapes.Count", value: "many" },
        "wrong_type",
        /Scene.Shapes.Count is int/,
      ],
      [{ id: 2, path: "Scene.Shapes.Count", value: 2.5 }, "wrong_type", /integer/],
      [{ id: 3, path: "Color.Shapes.Hue", value: 1.5 }, "out_of_range", /1.5 is outside 0..1/],
      [{ id: 4, path: "No.Such.Channel", value: 1 }, "unknown_channel", /No.Such.Channel/],
      [{ id: 5, path: "Audio.Analysis.Level", value: 0.5 }, "read_only", /read-only/],
      [
        { id: 6, path: "Scene.Shapes.Kind", value: "blobs" },
        "out_of_range",
        /circles, squares, bars/,
      ],
      [{ id: 7, path: "Scene.Motion.Direction", value: [1] }, "wrong_type", /2 numbers/],
      [{ id: 8, path: "Scene.Cursor.Color", value: "red" }, "wrong_type", /#rrggbb/],
      [{ id: 9, path: "System.Engine.Note", value: "a\ud800b" }, "wrong_type", /lone surrogate/],
      [{ id: 10, path: "Scene.Motion.Reset", value: false }, "wrong_type", /true/],
      [{ id: 11, path: "Scene.Motion.Paused", value: null }, "wrong_type", /true or false/],
      [{ id: 12, path: "Scene.Shapes.Size", value: "0.5" }, "wrong_type", /finite number/],
    ];
    for (const [m, code, text] of cases) {
      c.ws.send(JSON.stringify({ v: 1, type: "set", ...(m as object) }));
      const id = (m as { id: number }).id;
      const e = await c.next((r) => r.type === "error" && r.id === id, `error for id ${id}`);
      assert.equal(e.code, code, JSON.stringify(e));
      assert.match(e.message as string, text);
    }
    const protocolCases: [string | Uint8Array, string][] = [
      ["{nope", "bad_json"],
      ["[1,2]", "bad_json"],
      [JSON.stringify({ v: 2, type: "set", id: 20, path: "A", value: 1 }), "version"],
      [JSON.stringify({ v: 1, type: "launch" }), "unknown_type"],
      [JSON.stringify({ v: 1, type: "set", id: -1, path: "A", value: 1 }), "bad_message"],
      [JSON.stringify({ v: 1, type: "set", id: 21, path: "bad path!", value: 1 }), "bad_message"],
      [new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "bad_utf8"],
    ];
    for (const [data, code] of protocolCases) {
      const n = c.msgs.length;
      c.ws.send(data);
      const e = await c.next(
        (r) => c.msgs.indexOf(r) >= n && r.type === "error" && r.code === code,
        `${code} error`,
      );
      assert.ok((e.message as string).length > 5);
    }
    // A valid binary (UTF-8) write is fine, and proves the socket survived everything above.
    c.ws.send(new TextEncoder().encode(
      JSON.stringify({ v: 1, type: "set", id: 99, path: "Color.Shapes.Hue", value: 0.25 }),
    ));
    const ack = await c.next((r) => r.type === "ack" && r.id === 99, "ack 99");
    assert.equal(typeof ack.rev, "number");
    const delta = c.msgs.find((r) =>
      r.type === "delta" && (r.changes as unknown[]).includes("Color.Shapes.Hue")
    );
    assert.ok(delta && c.msgs.indexOf(delta) < c.msgs.indexOf(ack), "echo arrives before the ack");
    assert.equal(mirror.get("Color.Shapes.Hue"), 0.25);
    assert.equal(await setsReceived(engine), before + 1, "only the valid write reached the engine");

    // The mirror API refuses the same way, with typed errors.
    await assert.rejects(
      mirror.write("Color.Shapes.Hue", -1),
      (e: ParamWriteError) => e.code === "out_of_range",
    );
    await assert.rejects(
      mirror.write("Nope", 1),
      (e: ParamWriteError) => e.code === "unknown_channel",
    );
    c.ws.close();
  } finally {
    await cleanup();
  }
});

Deno.test("params: 10 MB messages, bad UTF-8 text frames and floods close that client only", async () => {
  const { engine, smx, cleanup } = await setup();
  try {
    const before = await setsReceived(engine);
    // 10 MB: refused with too_large, then closed with 1009.
    const big = await rawSocket(smx.url);
    big.ws.send(
      JSON.stringify({
        v: 1,
        type: "set",
        id: 1,
        path: "System.Engine.Note",
        value: "x".repeat(10 << 20),
      }),
    );
    assert.equal(await big.closed, 1009);
    assert.ok(big.msgs.some((m) => m.code === "too_large"));

    // Invalid UTF-8 in a text frame: the WebSocket layer fails that connection (1007).
    const port = Number(new URL(smx.url).port);
    const reply = await sendRawBadUtf8Text(port, "/ws/params");
    assert.match(reply.text, /^HTTP\/1.1 101/);
    assert.ok(reply.ended, "the server ended that connection");

    // Flood: far over 200 msg/s → rate_limited errors, then the socket is closed (1008).
    const flood = await rawSocket(smx.url);
    await flood.next((m) => m.type === "snapshot", "snapshot");
    for (let i = 1; i <= 3000 && flood.ws.readyState === WebSocket.OPEN; i++) {
      flood.ws.send(
        JSON.stringify({ v: 1, type: "set", id: i, path: "Scene.Shapes.Count", value: i % 64 }),
      );
    }
    // Deno's client reports 1008 or, when the close lands amid its own queued sends, 0.
    assert.ok([1008, 0].includes(await flood.closed), `closed with ${flood.closeCode()}`);
    assert.ok(flood.msgs.some((m) => m.code === "rate_limited"));
    assert.ok(smx.clients.some((h) => h.stats.rateLimited > 0));
    const applied = (await setsReceived(engine)) - before;
    assert.ok(applied <= 400 + 50, `at most about one burst reached the engine, got ${applied}`);

    // smx is still up and serving.
    const ok = await rawSocket(smx.url);
    await ok.next((m) => m.type === "snapshot", "snapshot after abuse");
    ok.ws.send(JSON.stringify({ v: 1, type: "set", id: 5, path: "Scene.Shapes.Count", value: 7 }));
    await ok.next((m) => m.type === "ack" && m.id === 5, "ack after abuse");
    ok.ws.close();
  } finally {
    await cleanup();
  }
});

Deno.test("engine hub: refuses bad writes and huge messages itself and keeps serving", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-writes-" });
  const engine = await startDemoEngine({ name: `hub-${uniq()}`, portDir: dir });
  const url = `ws://127.0.0.1:${engine.port}/ws/hub?token=${engine.token}`;
  try {
    const c = await rawSocket(url);
    await c.next((m) => m.type === "snapshot", "snapshot");
    c.ws.send(JSON.stringify({ v: 1, type: "set", id: 1, path: "Color.Shapes.Hue", value: 7 }));
    const e = await c.next((m) => m.type === "error" && m.id === 1, "error 1");
    assert.equal(e.code, "out_of_range");
    c.ws.send("{{{");
    await c.next((m) => m.code === "bad_json", "bad_json");
    c.ws.send("y".repeat(10 << 20));
    assert.equal(await c.closed, 1009);
    const reply = await sendRawBadUtf8Text(engine.port, `/ws/hub?token=${engine.token}`);
    assert.match(reply.text, /^HTTP\/1.1 101/);
    assert.ok(reply.ended, "the engine ended that connection");
    const d = await rawSocket(url);
    await d.next((m) => m.type === "snapshot", "engine still serving");
    d.ws.close();
  } finally {
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("params: a quiet client is pinged and kept if it answers; a dead one is closed", async () => {
  const { mirror, cleanup } = await setup();
  const smx = startParamServer(mirror, { pingMs: 100, idleMs: 500 });
  try {
    const polite = await rawSocket(smx.url);
    polite.ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "ping") polite.ws.send(JSON.stringify({ v: 1, type: "pong", t: m.t }));
    });
    const dead = await rawSocket(smx.url); // reads, never answers
    assert.equal(await dead.closed, 4000);
    assert.ok(dead.msgs.some((m) => m.type === "ping"), "it was pinged before being closed");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(polite.ws.readyState, WebSocket.OPEN, "the answering client is still connected");
    polite.ws.close();
  } finally {
    await smx.close();
    await cleanup();
  }
});

import assert from "node:assert/strict";
import { packVideoFrame } from "../../protocol/video.ts";
import type { ChannelMeta } from "../../protocol/params.ts";
import { HelloClient, parseHello } from "./local/hello.ts";
import { LocalParamSource } from "./local/params_ws.ts";
import { BACKOFF_MAX_MS, backoffMs, sameOriginWs } from "./local/socket.ts";
import { LocalVideoSource } from "./local/video_ws.ts";
import { pageReach, reachOf } from "./select.ts";
import type { EncodedFrame, StreamInfo } from "./types.ts";

Deno.test("origin rule: which reach a hostname is", () => {
  for (const h of ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "app.localhost"]) {
    assert.equal(reachOf(h), "local", h);
  }
  for (const h of ["192.168.1.20", "10.0.0.5", "172.20.1.1", "studio.local", "studio"]) {
    assert.equal(reachOf(h), "lan", h);
  }
  for (const h of ["smx.example.com", "8.8.8.8", "172.32.0.1"]) assert.equal(reachOf(h), "wan", h);
});

Deno.test("origin rule: the site's reach meta wins over the hostname", () => {
  const doc = (content: string | null) => ({
    querySelector: (sel: string) =>
      sel === 'meta[name="smx-reach"]' && content !== null
        ? { getAttribute: (n: string) => (n === "content" ? content : null) }
        : null,
  });
  assert.equal(pageReach(doc("wan"), { hostname: "192.168.1.20" }), "wan");
  assert.equal(pageReach(doc(" wan "), { hostname: "localhost" }), "wan");
  assert.equal(pageReach(doc(null), { hostname: "smx.example.com" }), "wan");
  assert.equal(pageReach(doc(null), { hostname: "localhost" }), "local");
  assert.equal(pageReach(doc("bogus"), { hostname: "10.0.0.5" }), "lan");
  assert.equal(pageReach(null, { hostname: "127.0.0.1" }), "local");
});

Deno.test("backoff grows, is capped, has jitter; ws URL follows the page scheme", () => {
  assert.equal(backoffMs(0, 0.5), 200);
  assert.equal(backoffMs(1, 0.5), 400);
  assert.equal(backoffMs(20, 0.5), BACKOFF_MAX_MS);
  assert.ok(backoffMs(20, 1) <= BACKOFF_MAX_MS * 1.2);
  assert.equal(
    sameOriginWs("/ws/video", { protocol: "http:", host: "127.0.0.1:7" }),
    "ws://127.0.0.1:7/ws/video",
  );
  assert.equal(
    sameOriginWs("/ws/params", { protocol: "https:", host: "a.b" }),
    "wss://a.b/ws/params",
  );
});

Deno.test("parseHello reads smx's descriptor and tolerates the brief's variant", () => {
  const h = parseHello({
    name: "smx",
    version: "0.1.0",
    engine: { state: "connected", name: "demo", url: null, candidates: [] },
    sources: [
      {
        id: "main",
        label: "Main",
        width: 1280,
        height: 720,
        fps: 60,
        pointer: {
          x: "M.MouseX",
          y: "M.MouseY",
          buttons: "M.Buttons",
          wheel: "M.Wheel",
          isOver: "M.IsOver",
        },
      },
      { id: 5 },
      { id: "b" },
    ],
    transports: ["ws"],
    encoder: { preference: ["x264"], lastUsed: "libx264" },
  });
  assert.equal(h.engine.state, "connected");
  assert.equal(h.encoder, "libx264");
  assert.deepEqual(h.sources.map((s) => s.id), ["main", "b"]);
  assert.equal(h.sources[0].pointer?.wheel, "M.Wheel");
  assert.equal(h.sources[1].fps, 60);
  assert.equal(
    parseHello({ engine: { state: "live" }, encoder: "nvenc" }).engine.state,
    "connected",
  );
  assert.equal(parseHello(null).engine.state, "offline");
});

// ------------------------------------------------------------------ a tiny smx stand-in

const CHANNELS: ChannelMeta[] = [
  { path: "x", type: "float", label: "X", group: "G", page: "P", default: 0.5, min: 0, max: 1 },
  { path: "t", type: "trigger", label: "T", group: "G", page: "P", default: 0 },
];

function serve(onSocket: (ws: WebSocket, path: string) => void) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    onSocket(socket, new URL(req.url).pathname);
    return response;
  });
  return { server, url: (p: string) => `ws://127.0.0.1:${server.addr.port}${p}` };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("params: snapshot, echo-only values, coalesced writes, errors, gap → sync, reconnect", async () => {
  const sets: unknown[] = [];
  let syncs = 0;
  let rev = 0;
  const values: Record<string, unknown> = { x: 0.5, t: 0 };
  let sockets: WebSocket[] = [];
  const { server, url } = serve((ws) => {
    sockets.push(ws);
    const snapshot = () =>
      ws.send(
        JSON.stringify({
          v: 1,
          type: "snapshot",
          rev,
          instanceId: "i",
          engine: "e",
          channels: CHANNELS,
          values,
        }),
      );
    ws.onopen = () => {
      ws.send(
        JSON.stringify({
          v: 1,
          type: "link",
          state: "connected",
          engine: { name: "e", instanceId: "i", url: "" },
        }),
      );
      snapshot();
    };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === "sync") return syncs++, snapshot();
      if (m.type !== "set") return;
      sets.push(m.value);
      if (m.value === 0.25) {
        return ws.send(
          JSON.stringify({
            v: 1,
            type: "error",
            id: m.id,
            code: "out_of_range",
            message: "no quarter",
          }),
        );
      }
      setTimeout(() => {
        values[m.path] = m.value;
        rev++;
        ws.send(JSON.stringify({ v: 1, type: "delta", rev, changes: [m.path, m.value] }));
        ws.send(JSON.stringify({ v: 1, type: "ack", id: m.id, rev }));
      }, 20);
    };
  });
  const p = new LocalParamSource(url("/ws/params"));
  try {
    await until(() => p.channels.value.length === 2);
    assert.equal(p.state.value, "open");
    assert.equal(p.engine.value.state, "connected");
    const x = p.value("x");
    assert.equal(x.value, 0.5);

    // no optimistic drift: the value changes with the echo, not with the call
    const w = p.write("x", 0.7);
    assert.equal(x.value, 0.5);
    await w;
    assert.equal(x.value, 0.7);

    // coalescing: one in flight, the newest waiting value goes next, the middle one never
    sets.length = 0;
    await Promise.all([p.write("x", 0.1), p.write("x", 0.2), p.write("x", 0.3)]);
    assert.deepEqual(sets, [0.1, 0.3]);
    assert.equal(x.value, 0.3);

    // local validation and engine refusals reject; the mirror keeps the engine's value
    await assert.rejects(p.write("x", 2), /outside/);
    await assert.rejects(p.write("x", 0.25), /no quarter/);
    assert.equal(x.value, 0.3);

    // a delta that skips a revision is not applied; a sync brings a fresh snapshot
    values.x = 0.9;
    rev += 2;
    sockets.at(-1)!.send(JSON.stringify({ v: 1, type: "delta", rev, changes: ["x", 0.9] }));
    await until(() => syncs === 1 && x.value === 0.9);

    // the server goes away: writes fail fast, the link comes back by itself
    sockets.at(-1)!.close();
    await until(() => p.state.value === "reconnecting");
    await assert.rejects(p.write("x", 0.4), /not connected/);
    await until(() => p.state.value === "open", 3000);
  } finally {
    p.close();
    for (const s of sockets) s.close();
    sockets = [];
    await server.shutdown();
  }
});

Deno.test("video: subscribe on demand, frames to the sink, unsubscribe when hidden", async () => {
  const got: string[] = [];
  const { server, url } = serve((ws) => {
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      got.push(
        `${m.type}:${m.stream}${
          m.type === "subscribe" ? `:${m.source}:${m.width}x${m.height}@${m.fps}` : ""
        }`,
      );
      if (m.type !== "subscribe") return;
      ws.send(
        JSON.stringify({
          type: "subscribed",
          stream: m.stream,
          source: m.source,
          width: 640,
          height: 360,
          fps: 60,
          encoder: "x264",
          codec: "avc1.4d401e",
        }),
      );
      ws.send(
        packVideoFrame({
          keyframe: true,
          stream: m.stream,
          frame: 7,
          captureUs: 1e15,
          sentUs: 1e15 + 100,
          width: 640,
          height: 360,
          encodeMs: 3.5,
        }, new Uint8Array([0, 0, 0, 1, 0x65])),
      );
    };
  });
  const v = new LocalVideoSource(url("/ws/video"), new HelloClient());
  const infos: StreamInfo[] = [];
  const frames: EncodedFrame[] = [];
  try {
    const sub = v.subscribe("main", { info: (i) => infos.push(i), frame: (f) => frames.push(f) });
    await until(() => v.state.value === "open");
    sub.setDemand({ width: 700.4, height: 400, fps: 60 });
    await until(() => frames.length === 1);
    assert.equal(infos[0].codec, "avc1.4d401e");
    assert.equal(frames[0].keyframe, true);
    assert.equal(frames[0].frame, 7);
    assert.equal(frames[0].encodeMs, 3.5);
    assert.deepEqual([...frames[0].data], [0, 0, 0, 1, 0x65]);
    sub.setDemand({ width: 700, height: 400, fps: 60 }); // rounding-equal: nothing sent
    sub.requestKeyframe();
    sub.setDemand(null);
    sub.close();
    sub.report({ fps: 60, decodeQueue: 0, decodeMs: 2, drawMs: 3 }); // closed: not sent
    await until(() => got.length >= 4);
    // Every frame is acknowledged on arrival (smx bounds each viewer's delay by the acks).
    assert.deepEqual(got, [
      "subscribe:1:main:700x400@60",
      "ack:1",
      "keyframe:1",
      "unsubscribe:1",
    ]);
  } finally {
    v.close();
    await server.shutdown();
  }
});

Deno.test("video: a close 1013 (smx at its connection limit) reads as busy, not down", async () => {
  const { server, url } = serve((ws) => {
    ws.onopen = () => ws.close(1013, "smx is at its connection limit (3); try again later");
  });
  const v = new LocalVideoSource(url("/ws/video"), new HelloClient());
  try {
    await until(() => v.state.value === "busy");
  } finally {
    v.close();
    await server.shutdown();
  }
});

Deno.test("a LAN page whose pairing ended stops reconnecting and says why", async () => {
  let opens = 0;
  const { server, url } = serve((ws, path) => {
    opens++;
    ws.onopen = () => {
      if (path === "/ws/video") ws.close(4401, "pairing expired: scan the QR code again");
      else ws.close(4403, "this device was disconnected on the smx machine");
    };
  });
  const v = new LocalVideoSource(url("/ws/video"), new HelloClient());
  const p = new LocalParamSource(url("/ws/params"));
  try {
    await until(() => v.state.value === "expired" && p.state.value === "disconnected");
    const seen = opens;
    await new Promise((r) => setTimeout(r, 800)); // a backoff retry would have come by now
    assert.equal(opens, seen, "no reconnect after the pairing ended");
  } finally {
    v.close();
    p.close();
    await server.shutdown();
  }
});

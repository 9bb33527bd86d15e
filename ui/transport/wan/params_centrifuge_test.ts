import assert from "node:assert/strict";
import { tagsFilter } from "./params_centrifuge.ts";

Deno.test("WAN params: tags filters leave out other pages' publications and answers", () => {
  assert.deepEqual(tagsFilter("ctl"), { key: "smx", cmp: "ex" });
  assert.deepEqual(tagsFilter("params", "u1"), {
    op: "or",
    nodes: [{ key: "to", cmp: "nex" }, { key: "user", cmp: "eq", val: "u1" }],
  });
  assert.equal(tagsFilter("params"), null); // no user known: everything (the mirror sorts by `to`)
  assert.equal(tagsFilter("state", "u1"), null);
});

// ---- the ParamSource's glue, against a stand-in for the centrifuge client

type Handler = (ctx: unknown) => void;

class FakeSub {
  handlers = new Map<string, Handler[]>();
  published: unknown[] = [];
  constructor(readonly channel: string, readonly opts: Record<string, unknown>) {}
  on(ev: string, h: Handler) {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), h]);
    return this;
  }
  emit(ev: string, ctx: unknown) {
    for (const h of this.handlers.get(ev) ?? []) h(ctx);
  }
  subscribe() {}
  publish(data: unknown) {
    this.published.push(data);
    return Promise.resolve({});
  }
  history() {
    return Promise.reject(new Error("not allowed"));
  }
}

class FakeCentrifuge {
  static last: FakeCentrifuge;
  handlers = new Map<string, Handler[]>();
  subs = new Map<string, FakeSub>();
  constructor(readonly url: string, readonly opts: Record<string, unknown>) {
    FakeCentrifuge.last = this;
  }
  on(ev: string, h: Handler) {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), h]);
    return this;
  }
  emit(ev: string, ctx: unknown) {
    for (const h of this.handlers.get(ev) ?? []) h(ctx);
  }
  newSubscription(channel: string, opts: Record<string, unknown>) {
    const s = new FakeSub(channel, opts);
    this.subs.set(channel, s);
    return s;
  }
  connect() {}
  disconnect() {}
}

Deno.test("WAN params: state, engine online, writes acked to this page only", async () => {
  const { CentrifugeParamSource } = await import("./params_centrifuge.ts");
  const { SiteApi } = await import("./site_api.ts");
  const api = new SiteApi(() =>
    Promise.resolve(new Response(JSON.stringify({ token: "t", expiresAt: 0 })))
  );
  const join = {
    engine: "e",
    livekit: { url: "ws://x", room: "smx-e", token: "t", expiresAt: 0 },
    centrifugo: {
      url: "ws://c",
      token: "t",
      channels: { state: "smx_state:e", params: "smx_params:e", ctl: "smx_ctl:e" },
      expiresAt: 0,
    },
  };
  const p = new CentrifugeParamSource({
    api,
    join,
    online: false,
    user: "u1",
    // deno-lint-ignore no-explicit-any
    CentrifugeImpl: FakeCentrifuge as any,
  });
  try {
    const c = FakeCentrifuge.last;
    const sub = (k: string) => c.subs.get(`smx_${k}:e`)!;
    assert.deepEqual(sub("ctl").opts.tagsFilter, { key: "smx", cmp: "ex" });
    assert.equal(p.state.value, "connecting");
    assert.equal(p.engine.value.state, "offline");
    c.emit("connected", { client: "me" });
    for (const k of ["state", "params", "ctl"]) sub(k).emit("subscribed", {});
    assert.equal(p.state.value, "open");
    const link = {
      v: 1,
      type: "link",
      state: "connected",
      engine: { name: "demo", instanceId: "i", url: "" },
    };
    sub("state").emit("publication", {
      data: {
        v: 1,
        type: "state",
        link,
        sources: [{ id: "main", label: "Main", width: 640, height: 360, fps: 30 }],
        snapshot: {
          v: 1,
          type: "snapshot",
          rev: 5,
          instanceId: "i",
          engine: "demo",
          channels: [{ path: "g", type: "float", label: "G", min: 0, max: 1, default: 0 }],
          values: { g: 0.5 },
        },
      },
    });
    assert.equal(p.value("g").value, 0.5);
    assert.equal(p.sources.value[0].id, "main");
    // The site says smx is not connected: a cached StateMsg does not make it look online.
    assert.equal(p.engine.value.state, "offline");
    p.setOnline(true);
    assert.deepEqual(p.engine.value, { state: "connected", name: "demo" });
    // A write: `set` on smx_ctl, settled by the ack addressed to this page.
    const w = p.write("g", 0.75);
    await Promise.resolve();
    const set = sub("ctl").published.at(-1) as { type: string; id: number; value: number };
    assert.equal(set.type, "set");
    assert.equal(set.value, 0.75);
    sub("params").emit("publication", { data: { v: 1, type: "ack", id: set.id, rev: 6, to: "x" } });
    let settled = false;
    w.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(settled, false, "an ack to another page does not settle ours");
    sub("params").emit("publication", {
      data: { v: 1, type: "delta", rev: 6, changes: ["g", 0.75] },
    });
    sub("params").emit("publication", {
      data: { v: 1, type: "ack", id: set.id, rev: 6, to: "me" },
    });
    await w;
    assert.equal(p.value("g").value, 0.75);
    // Refused before it leaves the page.
    await assert.rejects(p.write("g", 7), /./);
    // The link goes down: pending writes fail, the state says reconnecting.
    const w2 = p.write("g", 0.1);
    await Promise.resolve();
    c.emit("disconnected", { reason: "gone" });
    await assert.rejects(w2, (e: Error & { code?: string }) => e.code === "engine_offline");
    assert.equal(p.state.value, "reconnecting");
  } finally {
    p.close();
  }
});

/**
 * Reactions reach the engine (issue 11): viewers' reactions through the real Centrifugo and smx's
 * AudienceService (its own connection reading smx_react, the aggregator, AudienceChannels) into a real (hub-only) demo engine's Smx.Audience.Reactions and
 * Smx.Audience.Viewers, seen by another hub client; the rate falls back to 0 when they stop.
 */
import assert from "node:assert/strict";
import { Centrifuge } from "centrifuge";
import { discoverEngines, selectEngine } from "../server/engine/discovery.ts";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import { ParamClient } from "../protocol/params_client.ts";
import { audienceChannel } from "../protocol/audience.ts";
import { signHs256 } from "../server/wan/jwt.ts";
import { AUDIENCE_CHANNELS } from "../server/wan/audience/audience_channels.ts";
import { AudienceService } from "../server/wan/audience/service.ts";
import { startCentrifugo } from "./support/centrifugo.ts";
import { startDemoEngine, waitFor } from "./support/demo_engine.ts";

const ENGINE = "studio";

function client(url: string, secret: string, user: string) {
  return new Centrifuge(url, {
    getToken: () => signHs256({ sub: user, exp: Math.floor(Date.now() / 1000) + 300 }, secret),
    websocket: WebSocket,
    networkEventTarget: new EventTarget(),
    pageEventTarget: new EventTarget(),
  });
}

Deno.test("audience channels: viewers' reactions and count reach the engine's hub", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-audience-" });
  const name = `audience-${crypto.randomUUID().slice(0, 8)}`;
  const engine = await startDemoEngine({ name, portDir: dir });
  const cf = await startCentrifugo();
  const mirror = new ParamMirror({
    engine: async () => {
      const r = await discoverEngines({ portDir: dir, probePorts: false });
      return selectEngine(r.engines, name) ?? null;
    },
    initialBackoffMs: 50,
    maxBackoffMs: 400,
  }).start();
  const observer = new ParamClient(
    `ws://127.0.0.1:${engine.port}/ws/hub?token=${engine.token}`,
  );
  const logs: string[] = [];
  const service = new AudienceService({
    engine: ENGINE,
    centrifugo: { url: cf.url, apiUrl: cf.apiUrl, apiKey: cf.apiKey, tokenSecret: cf.tokenSecret },
    mirror,
    log: (_l: string, m: string) => logs.push(m),
  });
  const aud = audienceChannel("aud", ENGINE);
  const react = audienceChannel("react", ENGINE);
  const clients: Centrifuge[] = [];
  try {
    await Promise.all([mirror.whenConnected(10000), observer.ready]);
    assert.equal(mirror.meta(AUDIENCE_CHANNELS.reactions)?.hidden, true, "hidden from the UI");
    service.start();
    await waitFor(
      () => logs.some((l) => l.includes(`reading ${react}`)),
      "smx reads smx_react",
      5000,
    );

    // Three viewers watching (subscribed to smx_aud), two of them reacting.
    const viewers = ["v1", "v2", "v3"].map((u) => {
      const c = client(cf.url, cf.tokenSecret, u);
      clients.push(c);
      const s = c.newSubscription(aud, {
        getToken: () =>
          signHs256(
            { sub: u, channel: aud, exp: Math.floor(Date.now() / 1000) + 300 },
            cf.tokenSecret,
          ),
      });
      s.subscribe();
      c.connect();
      return { c, ready: new Promise((r) => s.once("subscribed", r)) };
    });
    await Promise.all(viewers.map((v) => v.ready));
    for (let i = 0; i < 4; i++) {
      await viewers[0].c.publish(react, { r: "fire" });
      await viewers[1].c.publish(react, { r: "heart" });
    }
    await waitFor(
      () => Number(observer.store.get(AUDIENCE_CHANNELS.reactions) ?? 0) > 0,
      "Smx.Audience.Reactions > 0",
      5000,
    );
    await waitFor(
      () => observer.store.get(AUDIENCE_CHANNELS.viewers) === 3,
      "Smx.Audience.Viewers = 3",
      5000,
    );
    // Moderation: a muted viewer's reactions are ignored.
    service.mute("v1");
    await viewers[0].c.publish(react, { r: "fire" });
    await waitFor(() => service.stats().muted === 1, "the muted reaction ignored", 5000);
    // Quiet again: the rate falls to 0 within the 2 s window (+ an interval).
    await waitFor(
      () => observer.store.get(AUDIENCE_CHANNELS.reactions) === 0,
      "Smx.Audience.Reactions back to 0",
      5000,
    );
  } finally {
    service.stop();
    for (const c of clients) c.disconnect();
    observer.close();
    await mirror.stop();
    await cf.stop();
    await engine.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

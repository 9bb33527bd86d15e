/**
 * The WAN page's transports against the real servers, without smx: a real livekit-server and a
 * real Centrifugo (tests/support/), a WHIP publisher (server/wan/publisher/whip_session.ts) sending
 * stamped Constrained Baseline frames with smx's timing SEI as `smx/main@640x360@30`, a stand-in
 * site (tokens signed here with the servers' keys), and a stand-in for smx's relay: it publishes
 * the StateMsg on smx_state, reads smx_ctl as the engine user and answers a `set` with an ack
 * `to` the writer. Headless Chromium opens the WAN page and must: see the source, publish its
 * demand, subscribe to the publisher, draw frames whose stamps advance (the encoded frames went
 * through RTCRtpScriptTransform into the tile's own decoder), show LiveKit figures in the stats,
 * and get a write acknowledged.
 */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { Centrifuge } from "centrifuge";
import { AccessToken } from "livekit-server-sdk";
import { H264Encoder } from "../../ffi/encoder.ts";
import { withFrameSei } from "../../protocol/frame_sei.ts";
import type { SnapshotMsg } from "../../protocol/params.ts";
import { writeStamp } from "../../protocol/stamp.ts";
import {
  channelOf,
  type JoinTokens,
  type ParamsChannelMsg,
  publisherIdentity,
  REACH_META,
  roomOf,
  type StateMsg,
} from "../../protocol/wan.ts";
import { signHs256 } from "../../server/wan/jwt.ts";
import { WhipSession } from "../../server/wan/publisher/whip_session.ts";
import { publishToken } from "../../server/wan/publisher/tokens.ts";
import { buildUi } from "../../ui/build.ts";
import { launchChromium } from "../support/browser.ts";
import { startCentrifugo } from "../support/centrifugo.ts";
import { startLiveKit } from "../support/livekit.ts";
import { tileStamp, waitUntil } from "./stack.ts";
import puppeteer from "puppeteer-core";
import { readStamp } from "../../protocol/stamp.ts";

const FIREFOX = Deno.env.get("SMX_FIREFOX") ?? "/usr/bin/firefox-esr";

/** A tile's canvas as base64 RGBA (run in the page). */
const READ_CANVAS = (src: string) => {
  const c = document.querySelector<HTMLCanvasElement>(
    `[data-testid=tile][data-source="${src}"] canvas`,
  );
  if (!c || !c.width) return null;
  const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
  let s = "";
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
  return { width: c.width, height: c.height, b64: btoa(s) };
};

function decodeStamp(r: { width: number; height: number; b64: string } | null) {
  if (!r) return null;
  const bin = atob(r.b64);
  const px = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) px[i] = bin.charCodeAt(i);
  return readStamp(px, r.width, r.height, { channels: "rgba" });
}
import type {} from "../../ui/diag.ts";

const ENGINE = "exp";
const W = 640, H = 360, FPS = 30;

Deno.test({
  name: "WAN page: video through LiveKit and parameters through Centrifugo (no smx)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const ui = await buildUi({ minify: true });
    await esbuild.stop();
    const index = new TextDecoder().decode(ui.get("/index.html")).replace(
      "<head>",
      `<head>\n    <meta name="${REACH_META}" content="wan">`,
    );
    const ctx: {
      lk?: Awaited<ReturnType<typeof startLiveKit>>;
      cf?: Awaited<ReturnType<typeof startCentrifugo>>;
    } = {};
    const exp = () => Math.floor(Date.now() / 1000) + 600;
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const p = new URL(req.url).pathname;
        const json = (b: unknown, status = 200) =>
          new Response(JSON.stringify(b), {
            status,
            headers: { "content-type": "application/json" },
          });
        const { lk, cf } = ctx;
        if (p === "/api/wan/session") return json({ user: { id: "u1", name: "Tess", groups: [] } });
        if (p === "/api/wan/engines") return json([{ id: ENGINE, label: "Exp", online: true }]);
        if (p === "/api/wan/token") {
          const at = new AccessToken(lk!.apiKey, lk!.apiSecret, {
            identity: "viewer-u1",
            ttl: 600,
          });
          at.addGrant({
            roomJoin: true,
            room: roomOf(ENGINE),
            canSubscribe: true,
            canPublish: false,
            canPublishData: false,
            hidden: true,
          });
          const join: JoinTokens = {
            engine: ENGINE,
            livekit: { url: lk!.url, room: roomOf(ENGINE), token: await at.toJwt(), expiresAt: 0 },
            centrifugo: {
              url: cf!.url,
              token: await signHs256({ sub: "u1", exp: exp() }, cf!.tokenSecret),
              channels: {
                state: channelOf("state", ENGINE),
                params: channelOf("params", ENGINE),
                ctl: channelOf("ctl", ENGINE),
              },
              expiresAt: 0,
            },
          };
          return json(join);
        }
        if (p === "/api/wan/token/connection") {
          return json({
            token: await signHs256({ sub: "u1", exp: exp() }, cf!.tokenSecret),
            expiresAt: 0,
          });
        }
        if (p === "/api/wan/token/subscription") {
          const { channel } = await req.json();
          return json({
            token: await signHs256({ sub: "u1", channel, exp: exp() }, cf!.tokenSecret),
            expiresAt: 0,
          });
        }
        if (p === "/" || p === "/index.html") {
          return new Response(index, { headers: { "content-type": "text/html; charset=utf-8" } });
        }
        const body = ui.get(p);
        if (!body) return new Response("not found", { status: 404 });
        return new Response(new Uint8Array(body), {
          headers: { "content-type": p.endsWith(".css") ? "text/css" : "text/javascript" },
        });
      },
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    // Everything started is stopped, whatever fails on the way (newest first).
    const cleanups: (() => unknown)[] = [() => server.shutdown()];
    try {
      ctx.lk = await startLiveKit();
      cleanups.push(() => ctx.lk!.stop());
      ctx.cf = await startCentrifugo({ origin });
      cleanups.push(() => ctx.cf!.stop());
      const { lk, cf } = ctx;
      const api = (method: string, body: unknown) =>
        fetch(`${cf.apiUrl}/${method}`, {
          method: "POST",
          headers: { "x-api-key": cf.apiKey, "content-type": "application/json" },
          body: JSON.stringify(body),
        }).then((r) => r.json());

      // ---- smx's relay, stood in: the state, and acks for writes.
      let value = 0.25;
      let rev = 1;
      const snapshot = (): SnapshotMsg => ({
        v: 1,
        type: "snapshot",
        rev,
        instanceId: "i1",
        engine: "exp-engine",
        channels: [{
          path: "Gain",
          type: "float",
          label: "Gain",
          min: 0,
          max: 1,
          default: 0,
        }] as SnapshotMsg[
          "channels"
        ],
        values: { Gain: value },
      });
      const state = (): StateMsg => ({
        v: 1,
        type: "state",
        snapshot: snapshot(),
        link: {
          v: 1,
          type: "link",
          state: "connected",
          engine: { name: "exp-engine", instanceId: "i1", url: "ws://x" },
        },
        sources: [{ id: "main", label: "Main", width: W, height: H, fps: FPS }],
      });
      await api("publish", { channel: channelOf("state", ENGINE), data: state() });
      const ctlSeen: { type: string; client?: string }[] = [];
      let idr = true;
      const engineClient: Centrifuge = new Centrifuge(cf.url, {
        token: await signHs256({ sub: `engine:${ENGINE}`, exp: exp() }, cf.tokenSecret),
      });
      const ctlChannel = channelOf("ctl", ENGINE);
      const ctl = engineClient.newSubscription(ctlChannel, {
        token: await signHs256(
          { sub: `engine:${ENGINE}`, channel: ctlChannel, exp: exp() },
          cf.tokenSecret,
        ),
      });
      ctl.on("publication", async (c) => {
        const m = c.data as { type: string; id?: number; value?: number };
        ctlSeen.push({ type: m.type, client: c.info?.client });
        if (m.type === "keyframe") idr = true; // smx answers with an IDR
        if (m.type === "set" && typeof m.value === "number") {
          value = m.value;
          rev++;
          const delta: ParamsChannelMsg = { v: 1, type: "delta", rev, changes: ["Gain", value] };
          await api("publish", { channel: channelOf("params", ENGINE), data: delta });
          const ack: ParamsChannelMsg = { v: 1, type: "ack", id: m.id!, rev, to: c.info!.client };
          await api("publish", { channel: channelOf("params", ENGINE), data: ack });
        }
      });
      ctl.subscribe();
      engineClient.connect();
      cleanups.push(() => engineClient.disconnect());
      await ctl.ready(10000);

      // ---- the publisher: stamped frames with the timing SEI, one WHIP session.
      const rendition = { source: "main", width: W, height: H, fps: FPS };
      const enc = await H264Encoder.open({ width: W, height: H, fps: FPS, profile: "baseline" });
      cleanups.push(() => enc.close());
      const whip = await WhipSession.open({
        base: lk.httpUrl,
        token: () =>
          publishToken({ apiKey: lk.apiKey, apiSecret: lk.apiSecret }, ENGINE, rendition),
        iceServers: [],
        ice: { bindAddress: "127.0.0.1", extraHostAddresses: ["127.0.0.1"], ipv6: false },
        pacing: { rateBytesPerSecond: 4_000_000, maxSpreadMs: 10 },
        onKeyframeRequest: () => (idr = true),
        onFailed: (r) => console.warn("whip failed:", r),
      });
      cleanups.push(() => whip.close().catch(() => {}));
      let sending = true;
      const px = new Uint8Array(W * H * 4);
      const sender = (async () => {
        for (let i = 1; sending; i++) {
          const captureUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
          px.fill(40 + (i % 100));
          writeStamp(px, W, H, { frame: i, captureUs }, { channels: "bgra" });
          const f = await enc.encodeRgba(px, W, H, { frame: i, captureUs, forceIdr: idr });
          idr = false;
          const au = withFrameSei(f.data, {
            frame: i,
            captureUs,
            sentUs: Math.round((performance.timeOrigin + performance.now()) * 1000),
            encodeMs: f.encodeMs,
          });
          await whip.sendFrame(au, captureUs, f.keyframe);
          await new Promise((r) => setTimeout(r, 1000 / FPS));
        }
      })();

      const browser = await launchChromium();
      cleanups.push(() => browser.close().catch(() => {}));
      cleanups.push(async () => {
        sending = false;
        await sender.catch(() => {});
      });
      {
        const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          if (!/willReadFrequently/.test(m.text())) console.log("page:", m.type(), m.text());
        });
        const loadAt = Date.now();
        await page.goto(origin + "/");
        await page.locator('[data-testid=tile][data-source="main"]').waitFor({ timeout: 15000 });
        // Time to first frame from page load (the rendition already published; polled every 20 ms).
        await waitUntil(
          "a first drawn frame",
          () =>
            page.evaluate(() =>
              ((globalThis as unknown as Window).__smx?.tile("main")?.framesDrawn ?? 0) > 0
            ),
          30000,
          20,
        ).catch(() => {});
        console.log(`time to first frame from page load: ${Date.now() - loadAt} ms`);
        const marks = await page.evaluate(() => [
          ...performance.getEntriesByType("mark").map((m) =>
            `${m.name} ${Math.round(m.startTime)}`
          ),
          ...performance.getEntriesByType("resource").filter((r) => /\.js/.test(r.name)).map((r) =>
            `${r.name.replace(/^.*\//, "")} ${Math.round(r.startTime)}-${
              Math.round((r as PerformanceResourceTiming).responseEnd)
            }`
          ),
        ]);
        console.log(`WAN page marks (ms from navigation): ${marks.join(", ")}`);
        const long = await page.evaluate(() =>
          new Promise<string[]>((res) => {
            const out: string[] = [];
            new PerformanceObserver((l) => {
              for (const e of l.getEntries()) {
                out.push(`${Math.round(e.startTime)}+${Math.round(e.duration)}`);
              }
            }).observe({ type: "longtask", buffered: true });
            setTimeout(() => res(out), 200);
          })
        );
        console.log(`long tasks (start+ms): ${long.join(", ")}`);
        await waitUntil("a demand on smx_ctl", () => ctlSeen.some((m) => m.type === "demand"));
        const dump = () =>
          page.evaluate(() =>
            JSON.stringify({
              // deno-lint-ignore no-explicit-any
              wan: (globalThis as any).__smxWan?.video(),
              tile: (globalThis as unknown as Window).__smx?.tile("main"),
            })
          );
        const first = await waitUntil("a stamp on the tile", () => tileStamp(page, "main"), 30000)
          .catch(async (e) => {
            console.log("page state:", await dump());
            throw e;
          });
        const later = await waitUntil("the stamp to advance", async () => {
          const s = await tileStamp(page, "main");
          return s && s.frame > first.frame + 10 ? s : null;
        }, 20000);
        assert.ok(later.frame > first.frame);
        await page.getByTestId("stats-toggle").click();
        const snap = await waitUntil("LiveKit figures", () =>
          page.evaluate(() => {
            const t = (globalThis as unknown as Window).__smx!.tile("main");
            return t?.link ? t : null;
          }));
        await page.waitForTimeout(Number(Deno.env.get("SMX_WAN_WATCH_MS") ?? 3000));
        const s2 = await page.evaluate(() =>
          (globalThis as unknown as Window).__smx!.tile("main")!
        );
        console.log(
          `after 3 s: ${s2.fps} fps, received ${s2.framesReceived} decoded ${s2.framesDecoded} drawn ${s2.framesDrawn} dropped ${s2.droppedBeforeDecode}+${s2.droppedUndrawn} idr requests ${s2.keyframeRequests} gaps ${s2.gaps} g2g ${s2.g2gP50}/${s2.g2gP95} stages enc ${s2.encodeMs} net ${s2.transferMs} dec ${s2.decodeMs} draw ${s2.drawMs}; whip ${
            JSON.stringify(whip.stats())
          }`,
        );
        console.log(
          `WAN tile: ${snap.fps} fps, g2g p50 ${snap.g2gP50.toFixed(1)} ms p95 ${
            snap.g2gP95.toFixed(1)
          }, ${snap.codec} ${snap.rendition}, path ${snap.path}, link ${JSON.stringify(snap.link)}`,
        );
        assert.equal(snap.link!.path, "livekit");
        assert.equal(snap.link!.feed, publisherIdentity(rendition));
        // A write through Centrifugo, acknowledged `to` this page.
        const row = page.locator('[data-testid=param][data-param="Gain"]');
        await row.waitFor({ timeout: 10000 });
        const t0 = performance.now();
        const ok = await page.evaluate(() => (globalThis as unknown as Window).__smx!.params.state);
        assert.equal(ok, "open");
        await row.getByTestId("param-number").fill("0.75");
        await row.getByTestId("param-number").press("Enter");
        await waitUntil("the echo", async () => (await row.getAttribute("data-value")) === "0.75");
        console.log(
          `write round trip (page → ctl → delta back): ${(performance.now() - t0).toFixed(0)} ms`,
        );
        assert.ok(ctlSeen.some((m) => m.type === "set"));
        assert.deepEqual(errors, []);
        await page.close();
        await t.step(
          "Firefox ESR: plays through RTCRtpScriptTransform, or says why it cannot",
          async () => {
            const ff = await puppeteer.launch({
              browser: "firefox",
              executablePath: FIREFOX,
              headless: true,
              protocol: "webDriverBiDi",
              // LiveKit offers only 127.0.0.1 here, and Firefox leaves loopback out of ICE by default.
              extraPrefsFirefox: { "media.peerconnection.ice.loopback": true },
            });
            try {
              const fp = await ff.newPage();
              const ferrors: string[] = [];
              fp.on("pageerror", (e) => ferrors.push(String(e)));
              await fp.setViewport({ width: 1200, height: 800 });
              await fp.goto(origin + "/");
              const h264 = await fp.evaluate(() =>
                !!RTCRtpReceiver.getCapabilities("video")?.codecs.some((c) =>
                  c.mimeType.toLowerCase() === "video/h264"
                )
              );
              if (!h264) {
                // Firefox receives H.264 only with the OpenH264 plugin, which Mozilla downloads on
                // first use; a fresh test profile has none. The tile must say so, not wait forever.
                const status = await waitUntil("the tile to say why", async () => {
                  const t = await fp.$eval(
                    '[data-testid=tile][data-source="main"]',
                    (el) => [el.getAttribute("data-status"), el.textContent ?? ""],
                  );
                  return t[0] === "ended" ? t[1] : null;
                });
                console.log(`Firefox without OpenH264: "${status}"`);
                assert.match(status, /H\.264/);
                assert.deepEqual(ferrors, []);
                return;
              }
              const stamp = () => fp.evaluate(READ_CANVAS, "main").then(decodeStamp);
              const f1 = await waitUntil("a stamp in Firefox", stamp, 30000).catch(async (e) => {
                console.log(
                  "firefox state:",
                  await fp.evaluate(() =>
                    JSON.stringify({
                      // deno-lint-ignore no-explicit-any
                      wan: (globalThis as any).__smxWan?.video(),
                      tile: (globalThis as unknown as Window).__smx?.tile("main"),
                    })
                  ),
                );
                throw e;
              });
              await waitUntil("Firefox's stamp to advance", async () => {
                const x = await stamp();
                return x && x.frame > f1.frame + 10 ? x : null;
              }, 20000);
              const info = await fp.evaluate(() => ({
                ua: navigator.userAgent,
                // deno-lint-ignore no-explicit-any
                api: (globalThis as any).__smxWan?.video().api,
                tile: (globalThis as unknown as Window).__smx!.tile("main"),
              }));
              console.log(
                `Firefox: ${info.ua}; frames by ${info.api}; ${info.tile?.fps} fps, g2g p50 ${
                  info.tile?.g2gP50?.toFixed(1)
                } ms, path ${info.tile?.path}, ${info.tile?.codec}`,
              );
              assert.equal(info.api, "script-transform");
              assert.deepEqual(ferrors, []);
            } finally {
              await ff.close().catch(() => {});
            }
          },
        );
      }
    } finally {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch { /* keep cleaning */ }
      }
    }
  },
});

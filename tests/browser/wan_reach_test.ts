/**
 * The WAN reach end to end, everything real and on loopback: the demo engine, smx with --wan,
 * the pinned livekit-server and Centrifugo, `smx site` behind the SSO stand-in, headless Chromium
 * signing in at the site (tests/support/wan_stack.ts). What a remote user sees and does, what the
 * tokens allow, and that smx heals by itself after either server restarts.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { RoomServiceClient } from "livekit-server-sdk";
import { readTile, tileStamp, waitUntil } from "./stack.ts";
import { startWanStack, WAN_ENGINE, type WanStack } from "../support/wan_stack.ts";
import { listeningAddresses } from "../support/livekit.ts";
import { WhipHttpError } from "../../server/wan/publisher/whip_http.ts";
import { WhipSession } from "../../server/wan/publisher/whip_session.ts";
import { H264Encoder } from "../../ffi/encoder.ts";
import { parsePublisherIdentity, roomOf } from "../../protocol/wan.ts";
import type {} from "../../ui/diag.ts";

const SOURCES = ["main", "plugin-a", "plugin-b"];

async function assertAdvancing(page: Page, source: string, timeoutMs = 30000) {
  const first = await waitUntil(`a stamp on ${source}`, () => tileStamp(page, source), timeoutMs);
  const later = await waitUntil(`${source} to advance`, async () => {
    const s = await tileStamp(page, source);
    return s && s.frame > first.frame ? s : null;
  }, timeoutMs);
  assert.ok(Math.abs(Date.now() - later.captureUs / 1000) < 5000, "stamp time is recent");
  return later;
}

async function setTileShown(page: Page, source: string, shown: boolean) {
  await page.locator(`[data-testid=tile][data-source="${source}"]`).evaluate((el, show) => {
    (el as HTMLElement).style.display = show ? "" : "none";
  }, shown);
}

/** What LiveKit itself says smx publishes in the engine's room. */
async function publishedInRoom(s: WanStack): Promise<string[]> {
  const rooms = new RoomServiceClient(s.livekit.httpUrl, s.livekit.apiKey, s.livekit.apiSecret);
  try {
    const ps = await rooms.listParticipants(roomOf(WAN_ENGINE));
    return ps.filter((p) => parsePublisherIdentity(p.identity) && p.tracks.length > 0)
      .map((p) => p.identity);
  } catch {
    return []; // no room (yet, or after a restart)
  }
}

const numberShown = (page: Page, path: string) =>
  page.locator(`[data-param="${path}"] [data-testid=param-number]`).inputValue();

/** PIDs of a process tree's processes whose command line contains `needle`. */
function pidsMatching(needle: string): number[] {
  const out = new Deno.Command("pgrep", { args: ["-f", needle], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
}

Deno.test({
  name: "WAN reach in real Chromium through the site, LiveKit and Centrifugo",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const s = await startWanStack({ name: "wanreach" });
    const pages: Page[] = [];
    let failed = false;
    const step = async (name: string, fn: () => Promise<void> | void) => {
      if (!(await t.step(name, fn))) failed = true;
    };
    try {
      const p = await s.openSignedIn("alice");
      pages.push(p);

      await step("a signed-in user sees every output through LiveKit", async () => {
        await waitUntil(
          "the WAN app",
          () => p.evaluate(() => (globalThis as unknown as Window).__smx?.reach === "wan"),
        );
        for (const src of SOURCES) await assertAdvancing(p, src);
        const published = await publishedInRoom(s);
        for (const src of SOURCES) {
          assert.ok(
            published.some((id) => parsePublisherIdentity(id)?.source === src),
            `LiveKit has a publisher for ${src}: ${published}`,
          );
        }
      });

      await step(
        "a slider changes the engine and the picture; engine changes show up",
        async () => {
          await p.locator('[data-param="Scene.Motion.Paused"] [data-testid=param-toggle]').click();
          await waitUntil("engine paused", () => s.hub.store.get("Scene.Motion.Paused") === true);
          await p.waitForTimeout(500);
          const before = await readTile(p, "main");
          const slider = p.locator('[data-param="Scene.Shapes.Count"] input[type=range]');
          await slider.focus();
          await p.keyboard.press("End");
          await waitUntil("engine count 64", () => s.hub.store.get("Scene.Shapes.Count") === 64);
          await waitUntil("the picture to change", async () => {
            const a = await readTile(p, "main");
            if (a.width !== before.width) return true; // a new rendition: changed anyway
            let diff = 0;
            for (let i = 0; i < a.pixels.length; i += 4 * 97) {
              diff += Math.abs(a.pixels[i] - before.pixels[i]);
            }
            return diff / (a.pixels.length / (4 * 97)) > 2;
          });
          await s.hub.set("Scene.Shapes.Size", 0.33);
          await waitUntil(
            "the page to show size 0.33",
            async () => Math.abs(Number(await numberShown(p, "Scene.Shapes.Size")) - 0.33) < 1e-6,
          );
          await s.hub.set("Scene.Motion.Paused", false);
        },
      );

      await step(
        "a second viewer joining late gets the current state and the picture",
        async () => {
          const late = await s.openSignedIn("bob");
          pages.push(late);
          await waitUntil(
            "the late page to show count 64 and size 0.33",
            async () =>
              Number(await numberShown(late, "Scene.Shapes.Count")) === 64 &&
              Math.abs(Number(await numberShown(late, "Scene.Shapes.Size")) - 0.33) < 1e-6,
            20000,
          );
          await assertAdvancing(late, "main");
        },
      );

      await step("hiding a tile on every page stops that rendition's publish", async () => {
        const plugin = (ids: string[]) =>
          ids.filter((id) => parsePublisherIdentity(id)?.source === "plugin-b");
        assert.ok(plugin(await publishedInRoom(s)).length > 0, "plugin-b is published");
        for (const page of pages) await setTileShown(page, "plugin-b", false);
        const t0 = performance.now();
        await waitUntil(
          "plugin-b unpublished",
          async () => plugin(await publishedInRoom(s)).length === 0,
          15000,
          100,
        );
        const stats = await s.smxStats();
        assert.ok(
          !stats.wan!.publisher.some((x) => x.identity.startsWith("smx/plugin-b@")),
          "smx has no publisher for plugin-b",
        );
        assert.ok(
          !stats.sessions.some((x) => x.source === "plugin-b"),
          "and no encode session for it",
        );
        console.log(`plugin-b unpublished ${Math.round(performance.now() - t0)} ms after hiding`);
        for (const page of pages) await setTileShown(page, "plugin-b", true);
        await assertAdvancing(p, "plugin-b");
      });

      await step("the browser's LiveKit token cannot put a track in the room", async () => {
        const tokens = await p.evaluate(async (engine) => {
          const r = await fetch("/api/wan/token", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ engine }),
          });
          return await r.json();
        }, WAN_ENGINE);
        // LiveKit's WHIP endpoint admits any room member; a participant without canPublish has
        // its track removed when media arrives. So send real media with the viewer's token.
        const session = await WhipSession.open({
          base: s.livekit.httpUrl,
          token: () => Promise.resolve(tokens.livekit.token),
          iceServers: [],
          ice: { bindAddress: "127.0.0.1", extraHostAddresses: ["127.0.0.1"], ipv6: false },
          pacing: { rateBytesPerSecond: 2_500_000, maxSpreadMs: 8 },
          onKeyframeRequest: () => {},
          onFailed: () => {},
        }).catch((e: unknown) => e);
        if (!(session instanceof WhipSession)) {
          assert.ok(session instanceof WhipHttpError, `refused outright: ${session}`);
        } else {
          const enc = await H264Encoder.open({
            width: 320,
            height: 180,
            fps: 30,
            profile: "baseline",
            preference: ["libx264"],
          });
          try {
            const pixels = new Uint8Array(320 * 180 * 4);
            for (let i = 0; i < 60; i++) {
              pixels.fill(i * 4);
              const f = await enc.encodeRgba(pixels, 320, 180, { forceIdr: i % 15 === 0 });
              if (f) await session.sendFrame(f.data, f.captureUs, f.keyframe);
              await new Promise((r) => setTimeout(r, 33));
            }
            assert.ok(session.stats().frames > 30, "media was sent with the viewer's token");
            const rooms = new RoomServiceClient(
              s.livekit.httpUrl,
              s.livekit.apiKey,
              s.livekit.apiSecret,
            );
            const viewers = (await rooms.listParticipants(roomOf(WAN_ENGINE)))
              .filter((x) => x.identity.startsWith("viewer:"));
            assert.ok(viewers.length > 0, "the viewer-token session is in the room");
            for (const v of viewers) {
              assert.equal(v.tracks.length, 0, `${v.identity} publishes nothing`);
              assert.equal(v.permission?.canPublish, false);
            }
          } finally {
            enc.close();
            await session.close();
          }
        }
        // No session at all: the site's 401 JSON, not a redirect, even through the SSO proxy.
        const res = await fetch(`${s.site.url}/api/wan/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ engine: WAN_ENGINE }),
          redirect: "manual",
        });
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error, "signed_out");
      });

      await step(
        "smx republishes by itself after LiveKit restarts; the page plays again",
        async () => {
          await s.livekit.restart();
          await waitUntil(
            "smx publishing again",
            async () => (await publishedInRoom(s)).length >= 2,
            30000,
            200,
          );
          await assertAdvancing(p, "main", 40000);
        },
      );

      await step("after Centrifugo restarts, parameters flow both ways again", async () => {
        await s.centrifugo.restart();
        await s.hub.set("Scene.Shapes.Size", 0.55);
        await waitUntil(
          "the page to show size 0.55",
          async () => Math.abs(Number(await numberShown(p, "Scene.Shapes.Size")) - 0.55) < 1e-6,
          30000,
        );
        // A write while the page is still reconnecting is refused at once (engine_offline, shown
        // by the control), and one published before smx's own subscription is back times out
        // (nobody reads smx_ctl then): write once both ends are back.
        await waitUntil(
          "the page's parameter link open",
          () => p.evaluate(() => (globalThis as unknown as Window).__smx?.params.state === "open"),
          20000,
        );
        await waitUntil(
          "smx subscribed to smx_ctl again",
          async () => {
            const relay = (await s.smxStats()).wan?.relay as { ctl?: { state?: string } };
            return relay?.ctl?.state === "subscribed";
          },
          20000,
        );
        const slider = p.locator('[data-param="Scene.Shapes.Count"] input[type=range]');
        await slider.focus();
        await p.keyboard.press("Home");
        await waitUntil(
          "a write from the page reaches the engine",
          () => s.hub.store.get("Scene.Shapes.Count") !== 64,
          20000,
        );
      });

      await step("nothing listens on a non-loopback address", () => {
        const procs: [string, number[]][] = [
          ["livekit-server", [s.livekit.pid()]],
          ["centrifugo", pidsMatching(s.centrifugo.configPath)],
          ["smx", [s.smx.child.pid]],
          ["smx site", [s.site.site.child.pid]],
          ["demo engine", [s.engine.pid]],
          ["this test (SSO stand-in)", [Deno.pid]],
        ];
        for (const [who, pids] of procs) {
          assert.ok(pids.length > 0, `${who} found`);
          for (const pid of pids) {
            const addrs = listeningAddresses(pid);
            const open = addrs.filter((a) => !/ (127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(a));
            assert.deepEqual(open, [], `${who} listens only on loopback (${addrs.join(", ")})`);
          }
        }
      });

      for (const page of pages) {
        const errors = (page as unknown as { smxErrors: string[] }).smxErrors;
        assert.deepEqual(errors, [], "no uncaught errors in the pages");
      }
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (failed) {
        console.error(`smx output:\n${s.smx.output().slice(-6000)}`);
        console.error(
          `smx WAN stats: ${JSON.stringify((await s.smxStats().catch(() => null))?.wan)}`,
        );
        for (const [i, page] of pages.entries()) {
          const params = await page.evaluate(() =>
            JSON.stringify((globalThis as unknown as Window).__smx?.params)
          ).catch(() => "?");
          console.error(`page ${i} params: ${params}`);
          const lines = (page as unknown as { smxConsole: string[] }).smxConsole;
          console.error(`page ${i} console:\n${lines.slice(-40).join("\n")}`);
        }
      }
      for (const page of pages) await page.close().catch(() => {});
      await s.close();
    }
  },
});

/**
 * The whole UI on a real LAN in Chromium: Debian Chromium inside the network namespace opens
 * smx's veth address over plain HTTP (not a secure context: no WebCodecs), with a phone's
 * viewport and touch. Unpaired it gets nothing; the QR's URL pairs it and every tile plays
 * through the WASM H.264 path (Baseline renditions); a slider reaches the engine; a touch on a
 * preview moves the demo's cursor; a second device pairs by code and plays the JPEG path
 * (`?video=jpeg`); a rotation shows "pairing expired" and the old URL stops working.
 */
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ParamClient } from "../protocol/params_client.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.ts";
import { startDemoEngine } from "./support/demo_engine.ts";
import { createLan, type LanSmx, startSmxOnLan } from "./support/netns.ts";
import { tempEngineDir } from "./support/processes.ts";
import { tileStamp, waitUntil } from "./browser/stack.ts";
import { containRect } from "../ui/video/letterbox.ts";
import type {} from "../ui/diag.ts";
import type { FirefoxLanJob, FirefoxLanResult } from "./support/firefox_lan.ts";

interface HelloSource {
  id: string;
  width: number;
  height: number;
  pointer?: { x: string; y: string; buttons: string; isOver: string };
}

/** Every tile draws advancing, recent stamps through `path`; returns the tiles' diagnostics. */
async function assertTilesPlay(page: Page, ids: string[], path: string) {
  for (const id of ids) {
    const first = await waitUntil(`a stamp on ${id}`, () => tileStamp(page, id), 20_000);
    const later = await waitUntil(`${id} to advance`, async () => {
      const s = await tileStamp(page, id);
      return s && s.frame > first.frame ? s : null;
    }, 10_000);
    assert.ok(Math.abs(Date.now() - later.captureUs / 1000) < 5000, "stamp time is recent");
  }
  const tiles = await page.evaluate(() =>
    (globalThis as unknown as Window).__smx!.tiles.map((t) => ({
      source: t.source,
      path: t.path,
      codec: t.codec,
      fps: t.fps,
      g2gP50: t.g2gP50,
    }))
  );
  for (const t of tiles) assert.equal(t.path, path, JSON.stringify(t));
  return tiles;
}

Deno.test({
  name:
    "LAN: the UI in Chromium over plain HTTP: pairing, live tiles without WebCodecs, controls, touch",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    try {
      Deno.statSync(CHROMIUM);
    } catch {
      throw new Error(`Chromium not found at ${CHROMIUM}: run \`bash scripts/setup.sh test\``);
    }
    const t0 = performance.now();
    const lan = await createLan();
    const dir = tempEngineDir();
    const engine = await startDemoEngine({
      name: `lanui-${Deno.pid}`,
      portDir: dir,
      outputs: true,
    });
    const hub = new ParamClient(`ws://127.0.0.1:${engine.port}/ws/hub?token=${engine.token}`);
    let smx: LanSmx | undefined;
    let browser: Browser | undefined;
    try {
      await hub.ready;
      smx = await startSmxOnLan(lan, [], { engineDir: dir });
      const s = smx;
      const origin = s.lanOrigin;
      const srcs: HelloSource[] = await waitUntil("three sources", async () => {
        const r = await (await fetch(`${s.loopback}/hello`)).json();
        return r.sources.length >= 3 ? r.sources : null;
      });
      const ids = srcs.map((x) => x.id);
      browser = await chromium.launch({
        executablePath: lan.chromium(),
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 30_000,
      });
      const b = browser;
      const phone: BrowserContext = await b.newContext({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
      });
      const page = await phone.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      const ok: boolean[] = [];
      const oldSecret = await s.secret();

      ok.push(
        await t.step("unpaired: the UI and its sockets are refused", async () => {
          await page.goto(`${origin}/`);
          assert.equal(page.url(), `${origin}/pair`, "sent to /pair");
          const closes = await page.evaluate(async (o) => {
            const one = (path: string) =>
              new Promise<string>((resolve) => {
                const ws = new WebSocket(o.replace("http", "ws") + path);
                ws.onopen = () => resolve("open");
                ws.onclose = (e) => resolve(`closed ${e.code}`);
              });
            const hello = await fetch("/hello").then((r) => r.status);
            return [await one("/ws/video"), await one("/ws/params"), String(hello)];
          }, origin);
          assert.ok(!closes.includes("open"), closes.join(", "));
          assert.equal(closes[2], "401");
        }),
      );

      ok.push(
        await t.step("the QR URL pairs; every tile plays through WASM H.264 Baseline", async () => {
          await page.goto("about:blank"); // from /pair, only the hash would change: no load
          await page.goto(`${origin}/pair#${oldSecret}`);
          await page.waitForURL(`${origin}/`, { timeout: 15_000 });
          assert.ok(!page.url().includes(oldSecret));
          assert.equal(await page.evaluate(() => isSecureContext), false);
          assert.equal(await page.evaluate(() => typeof VideoDecoder), "undefined");
          const tiles = await assertTilesPlay(page, ids, "wasm");
          for (const x of tiles) assert.match(x.codec, /^avc1\.42/, JSON.stringify(x));
          const sessions = (await (await fetch(`${s.loopback}/api/stats`)).json()).sessions as {
            id: string;
          }[];
          assert.ok(sessions.some((x) => x.id.endsWith("/baseline")), JSON.stringify(sessions));
          console.log(`phone tiles: ${JSON.stringify(tiles)}`);
        }),
      );

      ok.push(
        await t.step("a slider write reaches the engine", async () => {
          const slider = page.locator('[data-param="Scene.Shapes.Count"] input[type=range]');
          await slider.scrollIntoViewIfNeeded();
          await slider.focus();
          await page.keyboard.press("End");
          await waitUntil("engine count 64", () => hub.store.get("Scene.Shapes.Count") === 64);
        }),
      );

      ok.push(
        await t.step("a touch on a preview moves the demo's cursor", async () => {
          const src = srcs.find((x) => x.id === "main")!;
          assert.ok(src.pointer, "main takes a pointer");
          const boxLoc = page.locator(
            `[data-testid=tile][data-source="main"] [data-testid=tile-box]`,
          );
          await boxLoc.scrollIntoViewIfNeeded();
          const box = (await boxLoc.boundingBox())!;
          const pic = containRect(box.width, box.height, src.width, src.height);
          const at = (u: number, v: number) => ({
            x: box.x + pic.x + u * pic.w,
            y: box.y + pic.y + v * pic.h,
          });
          const cdp = await phone.newCDPSession(page);
          const touch = (
            type: "touchStart" | "touchMove" | "touchEnd",
            p?: { x: number; y: number },
          ) =>
            cdp.send("Input.dispatchTouchEvent", {
              type,
              touchPoints: p ? [{ x: p.x, y: p.y, id: 1 }] : [],
            });
          const scrollBefore = await page.evaluate(() => scrollY);
          await touch("touchStart", at(0.3, 0.4));
          await waitUntil(
            "buttons 1 under the finger",
            () => hub.store.get(src.pointer!.buttons) === 1,
          );
          for (let i = 1; i <= 5; i++) await touch("touchMove", at(0.3 + i * 0.08, 0.4 + i * 0.06));
          await waitUntil("cursor at 0.7,0.7", () => {
            const x = hub.store.get(src.pointer!.x) as number;
            const y = hub.store.get(src.pointer!.y) as number;
            return Math.abs(x - 0.7) < 0.03 && Math.abs(y - 0.7) < 0.03;
          });
          await touch("touchEnd");
          await waitUntil("buttons released", () => hub.store.get(src.pointer!.buttons) === 0);
          assert.equal(await page.evaluate(() => scrollY), scrollBefore, "the drag did not scroll");
        }),
      );

      ok.push(
        await t.step("the code pairs a second device, which plays through JPEG", async () => {
          const ctx = await b.newContext({ viewport: { width: 1200, height: 800 } });
          const p2 = await ctx.newPage();
          await p2.goto(`${origin}/pair`);
          const { code } = await s.status();
          await p2.locator("[data-testid=pair-code]").fill(code!);
          await p2.locator("[data-testid=pair-form] button").click();
          await p2.waitForURL(`${origin}/`, { timeout: 15_000 });
          await p2.goto(`${origin}/?video=jpeg`);
          const tiles = await assertTilesPlay(p2, ids, "jpeg");
          for (const x of tiles) assert.equal(x.codec, "jpeg");
          console.log(`jpeg tiles: ${JSON.stringify(tiles)}`);
          await ctx.close();
        }),
      );

      ok.push(
        await t.step(
          "Firefox ESR: the QR URL pairs; tiles play through WASM; slider and touch",
          async () => {
            const job: FirefoxLanJob = {
              origin,
              secret: oldSecret,
              sources: srcs,
              slider: "Scene.Shapes.Count",
              touch: { source: "main", to: [0.62, 0.66] },
            };
            const driver = new URL("./support/firefox_lan.ts", import.meta.url).pathname;
            const r = await lan.run([Deno.execPath(), "run", "-A", driver, JSON.stringify(job)], {
              timeoutMs: 120_000,
            });
            const last = r.stdout.trim().split("\n").at(-1) ?? "";
            let res: FirefoxLanResult;
            try {
              res = JSON.parse(last);
            } catch {
              throw new Error(
                `the Firefox driver did not finish (${r.code}): ${r.stderr.slice(-2000)}`,
              );
            }
            console.log(`Firefox: ${JSON.stringify(res)}`);
            assert.equal(res.failed, undefined, res.failed);
            assert.match(res.userAgent, /Firefox\//);
            assert.equal(res.secureContext, false);
            assert.equal(res.videoDecoder, "undefined");
            assert.equal(res.urlAfterPairing, `${origin}/`);
            for (const id of ids) {
              assert.ok(res.stamps[id].later > res.stamps[id].first, id);
              assert.ok(Math.abs(res.stamps[id].ageMs) < 5000, `${id} stamp age`);
            }
            for (const x of res.tiles) assert.equal(x.path, "wasm", JSON.stringify(x));
            const min = 0;
            await waitUntil(
              "engine count at its minimum",
              () => hub.store.get("Scene.Shapes.Count") === min,
            );
            const main = srcs.find((x) => x.id === "main")!;
            await waitUntil("the cursor where the finger left it", () => {
              const x = hub.store.get(main.pointer!.x) as number;
              const y = hub.store.get(main.pointer!.y) as number;
              return Math.abs(x - 0.62) < 0.03 && Math.abs(y - 0.66) < 0.03;
            });
            assert.deepEqual(res.errors, []);
          },
        ),
      );

      ok.push(
        await t.step("rotation: the page says pairing expired; the old URL fails", async () => {
          const res = await fetch(`${s.loopback}/api/lan/rotate`, { method: "POST" });
          assert.equal(res.status, 200);
          await res.body?.cancel();
          await page.waitForFunction(
            () =>
              document.querySelector("[data-testid=state-banner]")?.textContent?.includes(
                "Pairing expired",
              ),
            undefined,
            { timeout: 10_000 },
          );
          const again = await phone.newPage();
          const answer = again.waitForResponse((r) =>
            r.url() === `${origin}/pair` && r.request().method() === "POST"
          );
          await again.goto(`${origin}/pair#${oldSecret}`);
          assert.equal((await answer).status(), 401, "the old secret is dead");
        }),
      );

      assert.deepEqual(errors, [], "no page errors");
      if (ok.includes(false)) console.error(`smx output:\n${s.proc.output().slice(-4000)}`);
    } finally {
      await browser?.close().catch(() => {});
      hub.close();
      await smx?.close();
      await engine.kill();
      await lan.close();
      Deno.removeSync(dir, { recursive: true });
      console.log(`LAN UI test: ${Math.round(performance.now() - t0)} ms`);
    }
  },
});

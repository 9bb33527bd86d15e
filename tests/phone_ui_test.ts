/**
 * The UI on a phone (issue 8 item 5), end to end: demo engine → smx → headless Chromium emulating
 * a 390×844 touch phone (isMobile, hasTouch, DPR 3), on loopback. The layout fits (no sideways
 * scrolling, tiles full width at their aspect, 44 px targets, 16 px text) and a finger on a preview
 * reaches the engine like a mouse: a drag moves the demo's cursor while pressed without scrolling
 * the page, a tap is a press and a release, a second finger is ignored, and the page still scrolls
 * from a tile's title.
 */
import assert from "node:assert/strict";
import type { BrowserContext, CDPSession, Page } from "playwright-core";
import { readTile, type Stack, startStack, waitUntil } from "./browser/stack.ts";
import { containRect } from "../ui/video/letterbox.ts";

export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
} as const;

interface HelloSource {
  id: string;
  width: number;
  height: number;
  pointer?: { x: string; y: string; buttons: string; isOver: string };
}

type Box = { x: number; y: number; width: number; height: number };

/** The picture's rectangle inside a tile (viewport CSS px) and a point in it (u, v in 0..1). */
async function picture(page: Page, src: HelloSource) {
  const box: Box = (await page.locator(
    `[data-testid=tile][data-source="${src.id}"] [data-testid=tile-box]`,
  ).boundingBox())!;
  const r = containRect(box.width, box.height, src.width, src.height);
  return {
    box,
    at: (u: number, v: number) => ({ x: box.x + r.x + u * r.w, y: box.y + r.y + v * r.h }),
  };
}

type Point = { x: number; y: number };

function touch(cdp: CDPSession, type: "touchStart" | "touchMove" | "touchEnd", pts: Point[]) {
  return cdp.send("Input.dispatchTouchEvent", {
    type,
    touchPoints: pts.map((p, i) => ({ x: p.x, y: p.y, id: i, radiusX: 4, radiusY: 4, force: 1 })),
  });
}

/** A finger down at `from`, moved to `to` in `steps`, `ms` apart; up only when `lift`. */
async function drag(cdp: CDPSession, from: Point, to: Point, steps = 12, ms = 16, lift = true) {
  await touch(cdp, "touchStart", [from]);
  for (let i = 1; i <= steps; i++) {
    const k = i / steps;
    await touch(cdp, "touchMove", [{
      x: from.x + (to.x - from.x) * k,
      y: from.y + (to.y - from.y) * k,
    }]);
    await new Promise((r) => setTimeout(r, ms));
  }
  if (lift) await touch(cdp, "touchEnd", []);
}

const near = (a: unknown, b: number, tol = 0.02) => typeof a === "number" && Math.abs(a - b) < tol;

Deno.test({
  name: "phone-sized UI works by touch (390×844, real Chromium)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const stack: Stack = await startStack("phone");
    let ctx: BrowserContext | undefined;
    try {
      ctx = await stack.browser.newContext(PHONE);
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(stack.smx.url + "/");
      const srcs: HelloSource[] = await waitUntil("three sources in /hello", async () => {
        const s = (await (await fetch(`${stack.smx.url}/hello`)).json()).sources;
        return s.length >= 3 ? s : null;
      });
      await waitUntil(
        "every tile playing",
        () =>
          page.evaluate(
            (n) => document.querySelectorAll("[data-testid=tile][data-status=playing]").length >= n,
            srcs.length,
          ),
        30000,
      );
      await page.locator("[data-testid=param-slider]").first().waitFor();

      await t.step("the layout fits a phone", async () => {
        const m = await page.evaluate(() => {
          const r = (el: Element) => {
            const b = el.getBoundingClientRect();
            return { x: b.x, y: b.y, w: b.width, h: b.height };
          };
          const all = (sel: string) => [...document.querySelectorAll(sel)].map(r);
          return {
            scrollWidth: document.scrollingElement!.scrollWidth,
            scrollHeight: document.scrollingElement!.scrollHeight,
            bar: r(document.querySelector(".bar")!),
            tools: all(".bar .tool"),
            canvases: [...document.querySelectorAll<HTMLElement>("[data-testid=tile]")].map((
              tile,
            ) => ({
              source: tile.dataset.source!,
              ...r(tile.querySelector("[data-testid=tile-canvas]")!),
            })),
            sliders: all("[data-testid=param-slider]"),
            numbers: all("[data-testid=param-number]"),
            toggles: all("[data-testid=param-toggle]"), // the (invisible) input is the hit target
            selects: all("[data-testid=param-enum]"),
            triggers: all("[data-testid=param-trigger]"),
            tabs: all("[data-testid=param-tab], .tab"),
            labelPx: parseFloat(getComputedStyle(document.querySelector(".param-label")!).fontSize),
            inputPx: parseFloat(
              getComputedStyle(document.querySelector("[data-testid=param-number]")!).fontSize,
            ),
          };
        });
        assert.ok(m.scrollWidth <= 390, `no sideways scrolling: scrollWidth ${m.scrollWidth}`);
        assert.ok(m.scrollHeight > 844, "the page scrolls vertically (tiles, then the panel)");
        assert.ok(m.bar.w <= 390 && m.bar.h <= 64, `header on one line: ${JSON.stringify(m.bar)}`);
        for (const b of m.tools) {
          assert.ok(
            b.x + b.w <= 390 && b.h >= 44 && b.h <= 56,
            `header button ${JSON.stringify(b)}`,
          );
        }
        assert.equal(m.canvases.length, srcs.length);
        for (const c of m.canvases) {
          const s = srcs.find((x) => x.id === c.source)!;
          // Full width less the 0.5rem margins and the tile's borders; the source's own aspect.
          assert.ok(c.w >= 390 - 20 && c.x >= 0 && c.x + c.w <= 390, `${c.source}: ${c.w} px wide`);
          assert.ok(
            Math.abs(c.h - c.w * s.height / s.width) <= 1.5,
            `${c.source} aspect: ${c.w}×${c.h} for ${s.width}×${s.height}`,
          );
        }
        const tall = (what: string, rs: { h: number; w: number; x: number }[], full = 0) => {
          assert.ok(rs.length > 0, `some ${what}`);
          for (const r of rs) {
            assert.ok(r.h >= 44, `${what} ${r.h.toFixed(1)} px tall`);
            assert.ok(r.x >= 0 && r.x + r.w <= 390, `${what} inside the screen`);
            if (full) assert.ok(r.w >= full, `${what} ${r.w.toFixed(0)} px wide`);
          }
        };
        tall("slider", m.sliders, 200);
        tall("number field", m.numbers);
        tall("toggle", m.toggles, 340); // the whole row toggles
        tall("select", m.selects, 340);
        tall("trigger", m.triggers, 250);
        assert.ok(m.tabs.every((r) => r.h >= 44), "tabs 44 px tall");
        assert.ok(m.labelPx >= 16 && m.inputPx >= 16, `text ${m.labelPx} / inputs ${m.inputPx} px`);
        // Deep in the panel the page tabs stay at the top of the screen.
        const tabsTop = await page.evaluate(async () => {
          scrollTo(0, document.scrollingElement!.scrollHeight);
          await new Promise((r) => requestAnimationFrame(r));
          const top = document.querySelector(".tabs")!.getBoundingClientRect().top;
          scrollTo(0, 0);
          return top;
        });
        assert.ok(Math.abs(tabsTop) <= 1, `tabs stick to the top (at ${tabsTop})`);
        console.log(
          `  scrollWidth ${m.scrollWidth}, canvases ${
            m.canvases.map((c) => `${c.w.toFixed(0)}×${c.h.toFixed(0)}`).join(", ")
          }, slider ${m.sliders[0].w.toFixed(0)}×${m.sliders[0].h.toFixed(0)}, toggle row ${
            m.toggles[0].w.toFixed(0)
          }×${m.toggles[0].h.toFixed(0)}`,
        );
      });

      // A toggle by touch, like a thumb on the row (the label side, away from the switch).
      await t.step("a tap on a toggle row flips the engine's value", async () => {
        const row = page.locator('[data-param="Scene.Motion.Paused"]');
        await row.scrollIntoViewIfNeeded();
        const b = (await row.boundingBox())!;
        const before = stack.hub.store.get("Scene.Motion.Paused") === true;
        await page.touchscreen.tap(b.x + 40, b.y + b.height / 2);
        await waitUntil(
          "Paused flipped",
          () => stack.hub.store.get("Scene.Motion.Paused") !== before,
        );
        await stack.hub.set("Scene.Motion.Paused", before);
        await page.evaluate(() => scrollTo(0, 0));
      });

      const cdp = await ctx.newCDPSession(page);
      const hub = stack.hub;
      const main = srcs.find((s) => s.id === "main")!;
      const pp = main.pointer!;
      assert.ok(pp, "main is interactive");
      const buttons: unknown[] = []; // every Buttons value the engine got, in order
      const unsubscribe = hub.subscribe((e) => {
        if (e.type !== "delta") return;
        const c = e.msg.changes;
        for (let i = 0; i + 1 < c.length; i += 2) if (c[i] === pp.buttons) buttons.push(c[i + 1]);
      });

      await t.step(
        "a touch drag on a preview moves the engine's cursor, not the page",
        async () => {
          // The scroll event of scrollTo comes with a later frame: count only after two frames.
          await page.evaluate(async () => {
            scrollTo(0, 40);
            const frame = () => new Promise((r) => requestAnimationFrame(r));
            await frame();
            await frame();
            const w = globalThis as unknown as { scrolls: number };
            w.scrolls = 0;
            addEventListener("scroll", () => w.scrolls++);
          });
          const y0 = await page.evaluate(() => scrollY);
          assert.equal(y0, 40);
          const { at } = await picture(page, main);
          // Upwards and sideways: the gesture that would scroll the page down were it not for the tile.
          await drag(cdp, at(0.2, 0.85), at(0.7, 0.25), 15, 16, false);
          await waitUntil(
            "cursor at 0.7,0.25 while pressed",
            () =>
              near(hub.store.get(pp.x), 0.7) && near(hub.store.get(pp.y), 0.25) &&
              hub.store.get(pp.buttons) === 1 && hub.store.get(pp.isOver) === true,
          );
          // The demo draws a pressed cursor as an orange disc where it is: read it back from the tile.
          await waitUntil("orange cursor in the picture", async () => {
            const pic = await readTile(page, "main");
            const ring = 0.8 * Math.max(12, main.height / 18) * (pic.height / main.height);
            const px = Math.round(0.7 * (pic.width - 1) + 0.35 * ring);
            const py = Math.round(0.25 * (pic.height - 1) + 0.35 * ring);
            const i = (py * pic.width + px) * 4;
            const [r, g, b] = [pic.pixels[i], pic.pixels[i + 1], pic.pixels[i + 2]];
            return r > 190 && g > 130 && g < 235 && b < 110;
          });
          // A second finger elsewhere does not take the cursor over.
          await touch(cdp, "touchStart", [at(0.7, 0.25), at(0.1, 0.9)]);
          await touch(cdp, "touchMove", [at(0.7, 0.25), at(0.15, 0.95)]);
          await page.waitForTimeout(150);
          assert.ok(near(hub.store.get(pp.x), 0.7) && near(hub.store.get(pp.y), 0.25));
          await touch(cdp, "touchEnd", []);
          await waitUntil(
            "released",
            () => hub.store.get(pp.buttons) === 0 && hub.store.get(pp.isOver) === false,
          );
          const after = await page.evaluate(() => ({
            y: scrollY,
            scrolls: (globalThis as unknown as { scrolls: number }).scrolls,
          }));
          assert.deepEqual(after, { y: 40, scrolls: 0 }, "the page did not scroll during the drag");
          assert.ok(buttons.includes(1) && buttons.at(-1) === 0, `buttons ${buttons}`);
        },
      );

      await t.step("a tap is a press and a release at the finger", async () => {
        buttons.length = 0;
        const { at } = await picture(page, main);
        const p = at(0.4, 0.6);
        await page.touchscreen.tap(p.x, p.y);
        await waitUntil(
          "tap reached the engine",
          () =>
            buttons.includes(1) && buttons.at(-1) === 0 && near(hub.store.get(pp.x), 0.4) &&
            near(hub.store.get(pp.y), 0.6),
        );
        assert.deepEqual(buttons, [1, 0]);
        assert.equal(await page.evaluate(() => scrollY), 40);
      });

      await t.step("the page still scrolls by a finger on a tile's title", async () => {
        const head = (await page.locator(
          '[data-testid=tile][data-source="plugin-a"] .tile-head',
        ).boundingBox())!;
        const from = { x: head.x + head.width / 2, y: head.y + head.height / 2 };
        await drag(cdp, from, { x: from.x, y: from.y - 200 }, 20, 16);
        const y = await waitUntil("the page to scroll", async () => {
          const v = await page.evaluate(() => scrollY);
          return v > 140 ? v : 0;
        }, 5000);
        assert.ok(y > 140, `scrolled to ${y}`);
        assert.equal(hub.store.get(pp.buttons), 0, "no press from a scroll");
      });

      unsubscribe();
      assert.deepEqual(errors, []);
    } finally {
      await ctx?.close().catch(() => {});
      await stack.close();
    }
  },
});

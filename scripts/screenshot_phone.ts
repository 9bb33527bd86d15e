/**
 * Writes docs/phone.png: the UI on a 390×844 touch phone (Chromium's emulation, DPR 2) with live
 * video from the demo engine, scrolled to the last preview (square, full width) and the first
 * controls, a finger held on that preview (the engine draws its pressed cursor there). Real
 * processes, like the browser tests.
 *
 *   deno run -A scripts/screenshot_phone.ts [out.png]
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTile, startStack, waitUntil } from "../tests/browser/stack.ts";
import { containRect } from "../ui/video/letterbox.ts";

const out = Deno.args[0] ??
  join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "phone.png");
const stack = await startStack("demo");
try {
  const ctx = await stack.browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const page = await ctx.newPage();
  await page.goto(stack.smx.url + "/");
  const src = await waitUntil("the plugin-b source", async () => {
    const s = (await (await fetch(`${stack.smx.url}/hello`)).json()).sources;
    return s.length >= 3 ? s.find((x: { id: string }) => x.id === "plugin-b") : null;
  });
  await waitUntil(
    "every tile playing",
    () =>
      page.evaluate(() =>
        document.querySelectorAll("[data-testid=tile][data-status=playing]").length >= 3
      ),
    30000,
  );
  // Scroll to the last (square) preview: one screen shows a preview and the first controls.
  await page.evaluate(() => {
    const tile = document.querySelector<HTMLElement>('[data-testid=tile][data-source="plugin-b"]')!;
    scrollTo(0, tile.getBoundingClientRect().top + scrollY - 8);
  });
  await page.waitForTimeout(300);
  const box =
    (await page.locator('[data-source="plugin-b"] [data-testid=tile-box]').boundingBox())!;
  const r = containRect(box.width, box.height, src.width, src.height);
  const [u, v] = [0.62, 0.5];
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Input.dispatchTouchEvent", {
    type: "touchStart",
    touchPoints: [{ x: box.x + r.x + u * r.w, y: box.y + r.y + v * r.h }],
  });
  // Wait until the pressed (orange) cursor is in the picture, then a little more for sharp frames.
  await waitUntil("the pressed cursor", async () => {
    const t = await readTile(page, "plugin-b");
    const ring = 0.8 * Math.max(12, src.height / 18) * (t.height / src.height);
    const i = (Math.round(v * (t.height - 1) + 0.35 * ring) * t.width +
      Math.round(u * (t.width - 1) + 0.35 * ring)) * 4;
    return t.pixels[i] > 190 && t.pixels[i + 2] < 110;
  });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: out });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  console.log(`wrote ${out}`);
} finally {
  await stack.close();
}

/**
 * Drives Firefox ESR as a LAN device, from inside the test's network namespace:
 *
 *   ip netns exec NS deno run -A tests/support/firefox_lan.ts '{"origin":…,"secret":…,…}'
 *
 * Puppeteer talks WebDriver BiDi to Firefox over a WebSocket on Firefox's own loopback, which
 * inside a namespace is the namespace's; so the driver runs there too (Chromium needs no such
 * thing: playwright drives it over a pipe). It pairs with the QR URL, waits for every tile to
 * draw advancing stamps, moves a slider to its minimum and drags a finger over a preview; the
 * test outside reads the results from the last stdout line (JSON) and checks the engine.
 */
import puppeteer, { type Page } from "puppeteer-core";
import { readStamp } from "../../protocol/stamp.ts";
import { containRect } from "../../ui/video/letterbox.ts";
import type {} from "../../ui/diag.ts";

export interface FirefoxLanJob {
  origin: string;
  secret: string;
  sources: { id: string; width: number; height: number }[];
  /** The slider moved to its minimum (data-param). */
  slider: string;
  /** Source whose preview gets the drag, and where the finger ends (picture fractions). */
  touch: { source: string; to: [number, number] };
}

export interface FirefoxLanResult {
  userAgent: string;
  secureContext: boolean;
  videoDecoder: string;
  urlAfterPairing: string;
  tiles: { source: string; path: string; codec: string; fps: number; g2gP50: number }[];
  stamps: Record<string, { first: number; later: number; ageMs: number }>;
  errors: string[];
  failed?: string;
}

const FIREFOX = Deno.env.get("SMX_FIREFOX") ?? "/usr/bin/firefox-esr";

async function until<T>(what: string, fn: () => Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const end = performance.now() + ms;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ""}`);
}

async function stampOf(page: Page, source: string) {
  const r = await page.evaluate((src: string) => {
    const c = document.querySelector<HTMLCanvasElement>(
      `[data-testid=tile][data-source="${src}"] canvas`,
    );
    if (!c || !c.width) return null;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let s = "";
    for (let i = 0; i < d.length; i += 0x8000) {
      s += String.fromCharCode(...d.subarray(i, i + 0x8000));
    }
    return { width: c.width, height: c.height, b64: btoa(s) };
  }, source);
  if (!r) return null;
  const bin = atob(r.b64);
  const px = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) px[i] = bin.charCodeAt(i);
  return readStamp(px, r.width, r.height, { channels: "rgba" });
}

async function run(job: FirefoxLanJob): Promise<FirefoxLanResult> {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    protocol: "webDriverBiDi",
    // Touch events as a tablet's Firefox has them (desktop Firefox on Linux leaves them off).
    extraPrefsFirefox: { "dom.w3c_touch_events.enabled": 1 },
  });
  const res: FirefoxLanResult = {
    userAgent: "",
    secureContext: true,
    videoDecoder: "",
    urlAfterPairing: "",
    tiles: [],
    stamps: {},
    errors: [],
  };
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => res.errors.push(String(e)));
    await page.setViewport({ width: 1000, height: 900 });
    await page.goto(`${job.origin}/pair#${job.secret}`);
    await until(
      "the UI after pairing",
      () => page.evaluate(() => location.pathname === "/" && !!document.querySelector("#app")),
    );
    res.urlAfterPairing = await page.evaluate(() => location.href); // page.url() misses replaceState
    [res.userAgent, res.secureContext, res.videoDecoder] = await page.evaluate(() =>
      [navigator.userAgent, isSecureContext, typeof VideoDecoder] as [string, boolean, string]
    );
    for (const s of job.sources) {
      const first = await until(`a stamp on ${s.id}`, () => stampOf(page, s.id));
      const later = await until(`${s.id} to advance`, async () => {
        const x = await stampOf(page, s.id);
        return x && x.frame > first.frame ? x : null;
      }, 10_000);
      res.stamps[s.id] = {
        first: first.frame,
        later: later.frame,
        ageMs: Date.now() - later.captureUs / 1000,
      };
    }
    res.tiles = await page.evaluate(() =>
      (globalThis as unknown as Window).__smx!.tiles.map((t) => ({
        source: t.source,
        path: t.path,
        codec: t.codec,
        fps: t.fps,
        g2gP50: t.g2gP50,
      }))
    );

    const slider = `[data-param="${job.slider}"] input[type=range]`;
    await page.focus(slider);
    await page.keyboard.press("Home");

    const src = job.sources.find((s) => s.id === job.touch.source)!;
    const boxSel = `[data-testid=tile][data-source="${src.id}"] [data-testid=tile-box]`;
    const box = (await (await page.$(boxSel))!.boundingBox())!;
    const pic = containRect(box.width, box.height, src.width, src.height);
    const at = (u: number, v: number) => [box.x + pic.x + u * pic.w, box.y + pic.y + v * pic.h];
    const [u1, v1] = job.touch.to;
    const start = at(0.2, 0.2);
    const touch = await page.touchscreen.touchStart(start[0], start[1]);
    for (let i = 1; i <= 5; i++) {
      const [x, y] = at(0.2 + (u1 - 0.2) * i / 5, 0.2 + (v1 - 0.2) * i / 5);
      await touch.move(x, y);
    }
    await touch.end();
    await new Promise((r) => setTimeout(r, 300)); // the last pointer writes leave the page
  } catch (e) {
    res.failed = (e as Error).message;
  } finally {
    await browser.close().catch(() => {});
  }
  return res;
}

if (import.meta.main) {
  const result = await run(JSON.parse(Deno.args[0]) as FirefoxLanJob);
  console.log(JSON.stringify(result));
  Deno.exit(0);
}

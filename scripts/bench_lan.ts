/**
 * `deno task bench:lan`: glass-to-glass of the LAN video paths through a real network link. smx
 * listens on a veth pair's host end; Debian Chromium runs inside the namespace at the other end
 * and opens smx's LAN address over plain HTTP (no secure context, so no WebCodecs), paired with
 * the QR URL like a tablet. For each path (the default first, then the alternatives) and each
 * case (1280x720 at 30 and 60 fps from the demo engine's main output, shown full-stage), every
 * frame the page draws is measured from the stamp's capture time to its draw, from page load
 * on (start-up included), and the time from opening the page to its first drawn frame. In the
 * same run, the local WebCodecs path (loopback, a secure context) at 1280x720@30 is measured as
 * the reference. Last line: JSON.
 *
 * Needs root for the namespace (like the LAN tests). SMX_BENCH_SECONDS (default 15) per case.
 */
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, launchChromium } from "../tests/support/browser.ts";
import { type Proc, startMainTs, tempEngineDir } from "../tests/support/processes.ts";
import { createLan, type Lan } from "../tests/support/netns.ts";
import { spawnDemoEngine } from "../demo/spawn.ts";
import type {} from "../ui/diag.ts";

const SECONDS = Number(Deno.env.get("SMX_BENCH_SECONDS") ?? 15);
/** Best first: the first is the default LAN path (ui/video/paths.ts). */
const LAN_PATHS = ["wasm", "jpeg"] as const;
const RATES = [30, 60];
const SIZE = "1280x720";

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const r2 = (x: number) => Math.round(x * 100) / 100;

interface CaseResult {
  size: string;
  fps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  fps_drawn: number;
  time_to_first_frame_ms: number;
  mbit_s: number;
  rendition: string;
  limited: string;
  breakdown_p50_ms: Record<string, number> | null;
  frames: number;
}

/** Opens `url` in a fresh page and measures the main tile from navigation on. */
async function measure(browser: Browser, url: string, fps: number, pair?: string) {
  const [w, h] = SIZE.split("x").map(Number);
  const ctx = await browser.newContext({ viewport: { width: w + 480, height: h + 160 } });
  try {
    if (pair) { // pair like a tablet that scanned the QR; the cookie stays in this context
      const p = await ctx.newPage();
      await p.goto(pair);
      await p.waitForURL((u) => u.pathname === "/", { timeout: 15_000 });
      await p.close();
    }
    const page: Page = await ctx.newPage();
    await page.goto(url, { waitUntil: "commit" });
    await page.waitForFunction(
      () => ((globalThis as unknown as Window).__smx?.tile("main")?.framesDrawn ?? 0) > 0,
      undefined,
      { timeout: 20_000, polling: "raf" },
    );
    // performance.now() counts from this page's navigation start.
    const ttff = await page.evaluate(() => performance.now());
    const snapshot = () =>
      page.evaluate(() => (globalThis as unknown as Window).__smx?.tile("main") ?? null);
    const g2g: number[] = [];
    const bitrates: number[] = [];
    let last: Awaited<ReturnType<typeof snapshot>> = null;
    let lastDrawn = 0;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 400));
      const s = await snapshot();
      if (!s) continue;
      last = s;
      const fresh = s.framesDrawn - lastDrawn;
      if (fresh > 0) g2g.push(...s.g2g.slice(-Math.min(fresh, s.g2g.length)));
      lastDrawn = s.framesDrawn;
      bitrates.push(s.bitrate);
    }
    const seconds = (performance.now() - t0) / 1000 + ttff / 1000;
    const result: CaseResult = {
      size: SIZE,
      fps,
      p50_ms: r2(quantile(g2g, 0.5)),
      p95_ms: r2(quantile(g2g, 0.95)),
      p99_ms: r2(quantile(g2g, 0.99)),
      fps_drawn: r2(lastDrawn / seconds),
      time_to_first_frame_ms: Math.round(ttff),
      mbit_s: r2(quantile(bitrates, 0.5) / 1e6),
      rendition: last?.rendition ?? "",
      limited: last?.limited ?? "",
      breakdown_p50_ms: last
        ? {
          encode: r2(last.encodeMs),
          transfer: r2(last.transferMs),
          decode: r2(last.decodeMs),
          wait_for_frame: r2(last.waitMs),
          draw: r2(last.drawMs),
        }
        : null,
      frames: g2g.length,
    };
    const path = last?.path ?? "?";
    console.log(
      `  ${path} ${SIZE}@${fps}: p50 ${result.p50_ms} ms, p95 ${result.p95_ms}, p99 ${result.p99_ms}; ` +
        `${result.fps_drawn} fps drawn; first frame ${result.time_to_first_frame_ms} ms; ` +
        `${result.mbit_s} Mbit/s; ${result.rendition}${
          result.limited ? ` (${result.limited})` : ""
        }`,
    );
    console.log(`    where the ms go (recent medians): ${JSON.stringify(result.breakdown_p50_ms)}`);
    return { path, result };
  } finally {
    await ctx.close();
  }
}

async function withEngineAndSmx<T>(
  lan: Lan,
  fps: number,
  fn: (smx: Proc, lanOrigin: string, pairUrl: string) => Promise<T>,
): Promise<T> {
  const dir = tempEngineDir();
  const engine = await spawnDemoEngine({
    portDir: dir,
    port: 0,
    name: `benchlan-${Deno.pid}`,
    extraArgs: ["--main", `${SIZE}@${fps}`, "--no-ambient"],
  });
  const smx = await startMainTs(
    ["start", "--port", "0", "--no-demo", "--lan-address", lan.hostAddress],
    { env: { SMX_ENGINE_DIR: dir } },
  );
  try {
    const status = await (await fetch(`${smx.url}/api/lan`)).json();
    return await fn(smx, `http://${lan.hostAddress}:${smx.port}`, status.pairingUrl);
  } finally {
    await smx.kill();
    await engine.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}

const lan = await createLan();
let lanBrowser: Browser | undefined, localBrowser: Browser | undefined;
const byPath = new Map<string, CaseResult[]>();
let local: CaseResult | undefined;
try {
  lanBrowser = await chromium.launch({
    executablePath: lan.chromium(),
    headless: true,
    args: CHROMIUM_ARGS,
  });
  localBrowser = await launchChromium();
  for (const fps of RATES) {
    await withEngineAndSmx(lan, fps, async (smx, origin, pairUrl) => {
      console.log(`${SIZE}@${fps}:`);
      if (fps === 30) {
        const r = await measure(localBrowser!, `${smx.url}/?tile=main`, fps);
        if (r.path !== "webcodecs") throw new Error(`the local reference ran ${r.path}`);
        local = r.result;
      }
      for (const path of LAN_PATHS) {
        const r = await measure(lanBrowser!, `${origin}/?tile=main&video=${path}`, fps, pairUrl);
        if (r.path !== path) throw new Error(`asked for the ${path} path, the page ran ${r.path}`);
        byPath.set(path, [...(byPath.get(path) ?? []), r.result]);
      }
    });
  }
} finally {
  await lanBrowser?.close().catch(() => {});
  await localBrowser?.close().catch(() => {});
  await lan.close();
}

const [main, ...others] = LAN_PATHS;
const cases = byPath.get(main)!;
const at30 = cases.find((c) => c.fps === 30)!;
const ratio = r2(at30.p50_ms / local!.p50_ms);
console.log(
  `default LAN path ${main}: 720p30 p50 ${at30.p50_ms} ms = ${ratio}x the local WebCodecs ` +
    `path's ${local!.p50_ms} ms (goals: p50 ≤ 25, p95 ≤ 40, ≤ 1.5x local, first frame ≤ 1500 ms)`,
);
console.log(JSON.stringify({
  path: main,
  cases,
  local_720p30_p50_ms: local!.p50_ms,
  time_to_first_frame_ms: at30.time_to_first_frame_ms,
  ratio_720p30_to_local: ratio,
  local_720p30: local,
  alternatives: others.map((p) => ({ path: p, cases: byPath.get(p) })),
}));

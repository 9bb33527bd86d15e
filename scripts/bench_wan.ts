/**
 * `deno task bench:wan`: the WAN reach on loopback with the real servers (tests/support/
 * wan_stack.ts: pinned livekit-server and Centrifugo, smx --wan, smx site behind the SSO
 * stand-in). Two viewers sign in at the site and watch the demo engine's main output at
 * 1280x720@30, shown full-stage; every frame each page draws is measured from the stamp's capture
 * time (carried in the frame's SEI through LiveKit) to its draw, from page load on (start-up
 * included), and the time from opening the page to its first drawn frame. Then the parameter write
 * round trip through Centrifugo: a page-like centrifuge client (tokens as the site signs them)
 * publishes `set` on smx_ctl and waits for the engine's delta on smx_params. Last line: JSON.
 *
 * SMX_BENCH_SECONDS (default 15) of video; SMX_BENCH_WRITES (default 60) parameter writes.
 */
import type { Browser, Page } from "playwright-core";
import { startWanStack, WAN_ENGINE } from "../tests/support/wan_stack.ts";
import { connectPage } from "../tests/support/centrifugo.ts";
import type {} from "../ui/diag.ts";

const SECONDS = Number(Deno.env.get("SMX_BENCH_SECONDS") ?? 15);
const WRITES = Number(Deno.env.get("SMX_BENCH_WRITES") ?? 60);
const [W, H, FPS] = [1280, 720, 30];
const VIEWERS = 2;

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const r2 = (x: number) => Math.round(x * 100) / 100;

type Snapshot = NonNullable<ReturnType<NonNullable<Window["__smx"]>["tile"]>>;

/** Opens the UI signed in as `user` and waits for the main tile's first drawn frame. */
async function openViewer(browser: Browser, site: string, user: string) {
  const ctx = await browser.newContext({ viewport: { width: W + 480, height: H + 160 } });
  const page: Page = await ctx.newPage();
  // The stand-in's login sets the session cookie and redirects to the UI: from here on the page
  // loads as a signed-in user's would.
  await page.goto(`${site}/login?user=${user}&rd=${encodeURIComponent("/?tile=main")}`, {
    waitUntil: "commit",
  });
  await page.waitForFunction(
    () => ((globalThis as unknown as Window).__smx?.tile("main")?.framesDrawn ?? 0) > 0,
    undefined,
    { timeout: 30_000, polling: "raf" },
  );
  const ttff = await page.evaluate(() => {
    // From the UI's own navigation (after the login redirect) to the first drawn frame.
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    return performance.now() - (nav?.redirectEnd || nav?.fetchStart || 0);
  });
  return { ctx, page, ttff };
}

const s = await startWanStack({
  name: "benchwan",
  engineArgs: ["--main", `${W}x${H}@${FPS}`, "--no-ambient"],
  logLevel: "info",
  unpublishAfterSeconds: 10,
});
let result;
try {
  const viewers: Awaited<ReturnType<typeof openViewer>>[] = [];
  for (let i = 0; i < VIEWERS; i++) {
    viewers.push(await openViewer(s.browser, s.site.url, `viewer${i}`));
  }
  const samples: number[][] = viewers.map(() => []);
  const drawn = viewers.map(() => 0);
  let last: Snapshot | null = null;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 400));
    for (const [i, v] of viewers.entries()) {
      const snap = await v.page.evaluate(() =>
        (globalThis as unknown as Window).__smx?.tile("main") ?? null
      );
      if (!snap) continue;
      const fresh = snap.framesDrawn - drawn[i];
      if (fresh > 0) samples[i].push(...snap.g2g.slice(-Math.min(fresh, snap.g2g.length)));
      drawn[i] = snap.framesDrawn;
      if (i === 0) last = snap;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const all = samples.flat();
  const firstDrawn = await Promise.all(
    viewers.map((v) =>
      v.page.evaluate(() => (globalThis as unknown as Window).__smx?.tile("main")?.framesDrawn ?? 0)
    ),
  );
  const fpsDrawn = r2(
    firstDrawn.reduce((a, b) => a + b, 0) / VIEWERS /
      (seconds + Math.max(...viewers.map((v) => v.ttff)) / 1000),
  );
  const perViewer = samples.map((xs, i) => ({
    p50_ms: r2(quantile(xs, 0.5)),
    p95_ms: r2(quantile(xs, 0.95)),
    ttff_ms: Math.round(viewers[i].ttff),
  }));
  console.log(`${W}x${H}@${FPS}, ${VIEWERS} viewers through LiveKit: ${JSON.stringify(perViewer)}`);
  console.log(
    `  rendition ${last?.rendition}${
      last?.limited ? ` (${last.limited})` : ""
    }, path ${last?.path}`,
  );
  if (last) {
    const b = {
      encode: r2(last.encodeMs),
      transfer: r2(last.transferMs),
      decode: r2(last.decodeMs),
      wait_for_frame: r2(last.waitMs),
      draw: r2(last.drawMs),
    };
    console.log(`  where the ms go (recent medians): ${JSON.stringify(b)}`);
  }
  for (const v of viewers) await v.ctx.close();

  // Parameter writes: page → Centrifugo → smx → engine → smx → Centrifugo → page.
  const page = await connectPage({
    url: s.centrifugo.url,
    tokenSecret: s.centrifugo.tokenSecret,
    user: "bench",
    engine: WAN_ENGINE,
    filtered: true,
  });
  const rtt: number[] = [];
  try {
    for (let i = 0; i < WRITES; i++) {
      const value = Math.round((0.05 + (i % 90) / 100) * 1000) / 1000;
      const from = page.params.length;
      const start = performance.now();
      await page.publish({ v: 1, type: "set", id: 1000 + i, path: "Scene.Shapes.Size", value });
      const delta = await page.nextParams(
        (m) => m.type === "delta" && m.changes.includes(value),
        `the delta of write ${i}`,
        5000,
      );
      const k = page.params.indexOf(delta, from);
      rtt.push((k >= 0 ? page.paramsAt[k] : performance.now()) - start);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    page.close();
  }
  const ttff = Math.max(...viewers.map((v) => v.ttff));
  result = {
    cases: [{
      size: `${W}x${H}`,
      fps: FPS,
      viewers: VIEWERS,
      p50_ms: r2(quantile(all, 0.5)),
      p95_ms: r2(quantile(all, 0.95)),
      p99_ms: r2(quantile(all, 0.99)),
      fps_drawn: fpsDrawn,
      frames: all.length,
      rendition: last?.rendition ?? "",
    }],
    time_to_first_frame_ms: Math.round(ttff),
    param_rtt_p50_ms: r2(quantile(rtt, 0.5)),
    param_rtt_p95_ms: r2(quantile(rtt, 0.95)),
    param_writes: rtt.length,
  };
  const c = result.cases[0];
  console.log(
    `glass-to-glass p50 ${c.p50_ms} ms, p95 ${c.p95_ms}, p99 ${c.p99_ms}; ${c.fps_drawn} fps ` +
      `drawn per viewer; first frame ${result.time_to_first_frame_ms} ms (slowest viewer); ` +
      `parameter round trip p50 ${result.param_rtt_p50_ms} ms, p95 ${result.param_rtt_p95_ms} ` +
      `(goals: p50 ≤ 100, p95 ≤ 150, first frame ≤ 2000, round trip p50 ≤ 20)`,
  );
} finally {
  await s.close();
}
console.log(JSON.stringify(result));

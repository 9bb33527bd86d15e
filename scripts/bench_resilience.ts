/**
 * `deno task bench:resilience`: smx against viewers on slow links and against session churn, with
 * the demo engine (main output 1280x720@60) and smx as real processes.
 *
 * 1. A normal viewer and a throttled one (reading 150 KB/s, then 1 MB/s) on the main output at
 *    1280x720@60 for SMX_BENCH_SECONDS (default 30) each: the throttled viewer's frame age
 *    (arrival − capture) p50/p99 and the rendition it ends on, the normal viewer's fps, smx's RSS
 *    at the start and the end.
 * 2. 200 encode-session starts and stops (a viewer subscribing to a rendition nobody else
 *    watches, waiting for its first frame, leaving): smx's RSS before and after.
 * Last line: JSON.
 */
import { startMainTs, tempEngineDir } from "../tests/support/processes.ts";
import { spawnDemoEngine } from "../demo/spawn.ts";
import { quantile, VideoViewer } from "../tests/support/video_viewer.ts";

const SECONDS = Number(Deno.env.get("SMX_BENCH_SECONDS") ?? 30);
const CHURN = Number(Deno.env.get("SMX_BENCH_CHURN") ?? 200);
const WARMUP_S = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function waitFor(cond: () => boolean, what: string, ms = 10000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const dir = tempEngineDir();
const engine = await spawnDemoEngine({ name: `bench-res-${Deno.pid}`, portDir: dir, port: 0 });
const smx = await startMainTs(["start", "--port", "0", "--no-demo"], {
  env: { SMX_ENGINE_DIR: dir, SMX_ENCODERS: "libx264" },
});
const pid = smx.child.pid;

async function slowCase(bytesPerSecond: number) {
  const rssStart = rssMb(pid);
  const normal = await VideoViewer.connect(smx.port);
  const slow = await VideoViewer.connect(smx.port, { readBytesPerSecond: bytesPerSecond });
  await normal.subscribe(1, "main", 1280, 720, 60);
  await slow.subscribe(1, "main", 1280, 720, 60);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const t1 = Date.now();
  // Ages over the whole run (start-up included); fps after a short warm-up.
  const ages = slow.framesSince(t0).map((f) => f.ageMs);
  const normalFrames = normal.framesSince(t0 + WARMUP_S * 1000).length;
  const last = slow.subscribed(1).at(-1);
  const slowFrames = slow.framesSince(t0).length;
  slow.close();
  normal.close();
  await sleep(500);
  const out = {
    link_kb_s: bytesPerSecond / 1000,
    slow_age_p50_ms: r1(quantile(ages, 0.5)),
    slow_age_p99_ms: r1(quantile(ages, 0.99)),
    slow_fps: r1(slowFrames / ((t1 - t0) / 1000)),
    slow_rendition: last ? `${last.width}x${last.height}@${last.fps}` : "none",
    slow_limited_by: last?.limited?.by ?? null,
    normal_fps: r1(normalFrames / ((t1 - t0) / 1000 - WARMUP_S)),
    rss_start_mb: r1(rssStart),
    rss_end_mb: r1(rssMb(pid)),
  };
  console.log(JSON.stringify(out));
  return out;
}

async function churn() {
  const v = await VideoViewer.connect(smx.port);
  // Warm up once so the first encoder's one-time allocations are not counted as growth.
  await v.subscribe(1, "plugin-a", 320, 180, 15);
  await waitFor(() => v.frames.length > 0, "first frame");
  await v.send({ type: "unsubscribe", stream: 1 });
  await sleep(1000);
  const before = rssMb(pid);
  const sizes = [[320, 15], [480, 30], [640, 15], [320, 30], [480, 15]] as const;
  for (let i = 0; i < CHURN; i++) {
    const [w, fps] = sizes[i % sizes.length];
    const n = v.frames.length;
    // smx allows a page 20 subscribes a second (burst 60): retry a refused one like a page.
    for (;;) {
      const m = v.messages.length;
      await v.subscribe(1, "plugin-a", w, w, fps);
      const refused = () => v.messages.slice(m).some((x) => x.type === "error");
      await waitFor(() => v.frames.length > n || refused(), `frame of session ${i}`);
      if (v.frames.length > n) break;
      await sleep(100);
    }
    await v.send({ type: "unsubscribe", stream: 1 });
  }
  await sleep(2000); // the last session stops and frees
  const after = rssMb(pid);
  v.close();
  const out = { sessions: CHURN, rss_before_mb: r1(before), rss_after_mb: r1(after) };
  console.log(JSON.stringify(out));
  return out;
}

try {
  const slow150 = await slowCase(150_000);
  const slow1000 = await slowCase(1_000_000);
  const ch = await churn();
  console.log(JSON.stringify({
    slow_viewer_age_p99_ms: Math.max(slow150.slow_age_p99_ms, slow1000.slow_age_p99_ms),
    normal_viewer_fps: Math.min(slow150.normal_fps, slow1000.normal_fps),
    rss_growth_churn_mb: r1(ch.rss_after_mb - ch.rss_before_mb),
    rss_growth_slow_mb: r1(
      Math.max(
        slow150.rss_end_mb - slow150.rss_start_mb,
        slow1000.rss_end_mb - slow1000.rss_start_mb,
      ),
    ),
  }));
} finally {
  await smx.kill();
  await engine.stop();
  Deno.removeSync(dir, { recursive: true });
}

/**
 * The real local stack for browser tests: a demo engine process (three outputs), an smx process
 * linked to it through a private port-file folder, and headless Chromium. Nothing is mocked.
 */
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { type Proc, startMainTs, tempEngineDir } from "../support/processes.ts";
import { type DemoProc, startDemoEngine } from "../support/demo_engine.ts";
import { ParamClient } from "../../protocol/params_client.ts";
import { readStamp } from "../../protocol/stamp.ts";

export interface Stack {
  dir: string;
  engine: DemoProc;
  smx: Proc;
  browser: Browser;
  /** A client of the engine's own hub: what the engine really holds. */
  hub: ParamClient;
  restartEngine(): Promise<void>;
  killEngine(): Promise<void>;
  close(): Promise<void>;
}

export const hubUrl = (e: DemoProc) => `ws://127.0.0.1:${e.port}/ws/hub?token=${e.token}`;

/**
 * `adapt: false` runs smx with SMX_ADAPT=off: viewers stay at what they asked for, so a test of
 * sharing or of recovery does not depend on how loaded the machine is (adaptation has its own
 * tests).
 */
export async function startStack(name: string, opts: { adapt?: boolean } = {}): Promise<Stack> {
  const dir = tempEngineDir();
  const engineName = `${name}-${Deno.pid}`;
  let engine = await startDemoEngine({ name: engineName, portDir: dir, outputs: true });
  const smx = await startMainTs(["start", "--port", "0", "--no-demo", "--log-level", "debug"], {
    env: {
      SMX_ENGINE_DIR: dir,
      SMX_ENCODERS: "libx264",
      ...(opts.adapt === false ? { SMX_ADAPT: "off" } : {}),
    },
  });
  const browser = await launchChromium();
  let hub = new ParamClient(hubUrl(engine));
  await hub.ready;
  const stack: Stack = {
    dir,
    get engine() {
      return engine;
    },
    smx,
    browser,
    get hub() {
      return hub;
    },
    async killEngine() {
      hub.close();
      await engine.kill("SIGKILL");
    },
    async restartEngine() {
      engine = await startDemoEngine({ name: engineName, portDir: dir, outputs: true });
      hub = new ParamClient(hubUrl(engine));
      await hub.ready;
    },
    async close() {
      hub.close();
      await browser.close().catch(() => {});
      await smx.kill();
      await engine.kill();
      Deno.removeSync(dir, { recursive: true });
    },
  };
  return stack;
}

/** Polls `fn` until it returns a truthy value or the time runs out (then throws with `what`). */
export async function waitUntil<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 15000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

export async function openUi(stack: Stack, viewport = { width: 1400, height: 850 }): Promise<Page> {
  const page = await stack.browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(stack.smx.url + "/");
  (page as unknown as { smxErrors: string[] }).smxErrors = errors;
  return page;
}

export interface CanvasPicture {
  width: number;
  height: number;
  /** RGBA of the whole canvas. */
  pixels: Uint8Array;
}

/** Reads a tile's canvas (the decoded picture at its coded size) as RGBA. */
export async function readTile(page: Page, source: string): Promise<CanvasPicture> {
  const r = await page.evaluate((src) => {
    const c = document.querySelector<HTMLCanvasElement>(
      `[data-testid=tile][data-source="${src}"] canvas`,
    );
    if (!c || !c.width) return null;
    const ctx = c.getContext("2d");
    if (!ctx) return null;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let s = "";
    for (let i = 0; i < d.length; i += 0x8000) {
      s += String.fromCharCode(...d.subarray(i, i + 0x8000));
    }
    return { width: c.width, height: c.height, b64: btoa(s) };
  }, source);
  if (!r) throw new Error(`tile ${source} has no picture yet`);
  const bin = atob(r.b64);
  const pixels = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) pixels[i] = bin.charCodeAt(i);
  return { width: r.width, height: r.height, pixels };
}

/** The frame stamp drawn in a tile right now, or null when unreadable. */
export async function tileStamp(page: Page, source: string) {
  const pic = await readTile(page, source);
  return readStamp(pic.pixels, pic.width, pic.height, { channels: "rgba" });
}

/** smx's own stats (sessions and video clients). */
export async function smxStats(stack: Stack): Promise<{
  sessions: { id: string; source: string; subscribers: number; width: number; state: string }[];
  videoClients: { streams: { session: string; limited: string | null }[] }[];
}> {
  const res = await fetch(`${stack.smx.url}/api/stats`);
  return await res.json();
}

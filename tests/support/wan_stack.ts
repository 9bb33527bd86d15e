/**
 * The whole WAN reach on loopback, for end-to-end tests and bench:wan: the pinned livekit-server
 * and Centrifugo, the demo engine (three outputs), smx started as a user starts it with
 * `--wan FILE` (secrets in its environment), `smx site` behind the SSO stand-in as the public
 * origin, and headless Chromium. Nothing is mocked and nothing listens beyond 127.0.0.1.
 */
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./browser.ts";
import { type CentrifugoServer, freePort, startCentrifugo } from "./centrifugo.ts";
import { type DemoProc, startDemoEngine } from "./demo_engine.ts";
import { type LiveKitServer, startLiveKit } from "./livekit.ts";
import { type Proc, startMainTs, tempEngineDir } from "./processes.ts";
import { type SiteStack, startSiteStack } from "./site.ts";
import { ParamClient } from "../../protocol/params_client.ts";

export const WAN_ENGINE = "demo";

export interface WanStack {
  livekit: LiveKitServer;
  centrifugo: CentrifugoServer;
  engine: DemoProc;
  smx: Proc;
  site: SiteStack;
  browser: Browser;
  /** A client of the engine's own hub: what the engine really holds. */
  hub: ParamClient;
  /** A new page signed in as `user` at the site (the stand-in's login), on the UI. */
  openSignedIn(
    user?: string,
    viewport?: { width: number; height: number },
    groups?: string[],
  ): Promise<Page>;
  /** smx's /api/stats (the WAN part: relay and publisher). */
  smxStats(): Promise<SmxWanStats>;
  close(): Promise<void>;
}

export interface SmxWanStats {
  wan?: {
    relay: Record<string, unknown>;
    publisher: { identity: string; state: string; framesSent: number; keyframes: number }[];
  };
  sessions: { id: string; source: string; subscribers: number }[];
}

export interface WanStackOptions {
  /** smx unpublishes a rendition nobody asked for after this long (default 2 s for tests). */
  unpublishAfterSeconds?: number;
  name?: string;
  /** smx's log level (default debug: its output is printed when a test fails). */
  logLevel?: string;
  /** Extra demo-engine flags (e.g. `--main 1280x720@30 --no-ambient` for the benchmark). */
  engineArgs?: string[];
  /** More keys of smx's WAN config (e.g. `venues`). */
  wanConfig?: Record<string, unknown>;
  /** More keys of the site's config (e.g. `operators`). */
  siteConfig?: Record<string, unknown>;
}

const hubUrl = (e: DemoProc) => `ws://127.0.0.1:${e.port}/ws/hub?token=${e.token}`;

export async function startWanStack(o: WanStackOptions = {}): Promise<WanStack> {
  const cleanup: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
  };
  try {
    const proxyPort = freePort();
    const origin = `http://127.0.0.1:${proxyPort}`;
    const livekit = await startLiveKit();
    cleanup.push(() => livekit.stop());
    const centrifugo = await startCentrifugo({ origin });
    cleanup.push(() => centrifugo.stop());

    const dir = tempEngineDir();
    cleanup.push(() => Deno.removeSync(dir, { recursive: true }));
    const engine = await startDemoEngine({
      name: `${o.name ?? "wan"}-${Deno.pid}`,
      portDir: dir,
      outputs: true,
      extraArgs: o.engineArgs,
    });
    cleanup.push(() => engine.kill());

    const wanConfig = `${dir}/wan.json`;
    await Deno.writeTextFile(
      wanConfig,
      JSON.stringify({
        engine: WAN_ENGINE,
        label: "Demo engine",
        livekit: { url: livekit.url, apiKey: livekit.apiKey },
        centrifugo: { url: centrifugo.url, apiUrl: centrifugo.apiUrl },
        unpublishAfterSeconds: o.unpublishAfterSeconds ?? 2,
        iceAddress: "127.0.0.1", // nothing beyond loopback, media sockets included
        ...o.wanConfig,
      }),
    );
    const smx = await startMainTs(
      [
        "start",
        "--port",
        "0",
        "--no-demo",
        "--log-level",
        o.logLevel ?? "debug",
        "--wan",
        wanConfig,
      ],
      {
        env: {
          SMX_ENGINE_DIR: dir,
          SMX_ENCODERS: "libx264",
          SMX_WAN_LIVEKIT_SECRET: livekit.apiSecret,
          SMX_WAN_CENTRIFUGO_SECRET: centrifugo.tokenSecret,
          SMX_WAN_CENTRIFUGO_API_KEY: centrifugo.apiKey,
        },
        timeoutMs: 60000,
      },
    );
    cleanup.push(() => smx.kill());

    const site = await startSiteStack({
      livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      centrifugo: {
        url: centrifugo.url,
        apiUrl: centrifugo.apiUrl,
        apiKey: centrifugo.apiKey,
        tokenSecret: centrifugo.tokenSecret,
      },
      engines: [{ id: WAN_ENGINE, label: "Demo engine" }],
      proxyPort,
      ...(o.siteConfig ? { extraConfig: o.siteConfig } : {}),
    });
    cleanup.push(() => site.stop());

    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const hub = new ParamClient(hubUrl(engine));
    await hub.ready;
    cleanup.push(() => hub.close());

    return {
      livekit,
      centrifugo,
      engine,
      smx,
      site,
      browser,
      hub,
      async openSignedIn(user = "alice", viewport = { width: 1400, height: 850 }, groups = []) {
        const page = await browser.newPage({ viewport });
        const errors: string[] = [];
        const console: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          console.push(`${m.type()}: ${m.text()}`);
          if (console.length > 200) console.splice(0, 100);
        });
        Object.assign(page, { smxErrors: errors, smxConsole: console });
        const g = groups.length ? `&groups=${encodeURIComponent(groups.join("|"))}` : "";
        await page.goto(`${site.url}/login?user=${encodeURIComponent(user)}${g}`);
        return page;
      },
      async smxStats() {
        return await (await fetch(`${smx.url}/api/stats`)).json();
      },
      close: undo,
    };
  } catch (e) {
    await undo();
    throw e;
  }
}

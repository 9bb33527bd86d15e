/**
 * The site's Deno adapter: loads the UI bundle (ui/dist when present, else built in memory),
 * wires the engine directory and presence, and listens with Deno.serve on the configured address
 * (default 127.0.0.1:7400: the SSO proxy in front is what the internet reaches). Each request's
 * peer address is handed to the app (app.ts) as the binding `peer`. The accept loop is kept
 * alive through EMFILE and the like (server/http/keep_listening.ts).
 */
import { keepListening } from "../server/http/keep_listening.ts";
import { UiAssets } from "../server/http/ui_assets.ts";
import { createSite } from "./app.ts";
import type { SiteConfig } from "./config.ts";
import { EngineDirectory, Presence } from "./engines.ts";
import { SitePages } from "./page.ts";

export interface RunningSite {
  hostname: string;
  port: number;
  /** http://host:port as listened on (not the public origin). */
  url: string;
  shutdown(): Promise<void>;
}

export async function serveSite(
  config: SiteConfig,
  opts: { log?: (m: string) => void; dev?: boolean } = {},
): Promise<RunningSite> {
  const log = opts.log ?? (() => {});
  const assets = await UiAssets.load({ watch: opts.dev, log });
  const presence = new Presence(config.centrifugo, { log });
  const site = createSite({
    config,
    pages: new SitePages(assets),
    engines: new EngineDirectory(config.engines, presence),
    log,
  });
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  let port = config.listen.port;
  const server = keepListening(
    () =>
      Deno.serve({
        hostname: config.listen.hostname,
        port,
        onListen: (addr) => {
          port = addr.port;
          resolve(addr);
        },
      }, (req, info) => site.fetch(req, { peer: { address: info.remoteAddr.hostname } })),
    { log },
  );
  const addr = await promise;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    hostname: addr.hostname,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    shutdown: async () => {
      await server.shutdown();
      assets.close();
    },
  };
}

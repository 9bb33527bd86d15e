/**
 * `smx site` behind the SSO stand-in, for tests: the site started as a user starts it
 * (`deno run -A main.ts site --config FILE`, a child process on 127.0.0.1), its config written to a
 * temp dir with the secrets left out of the file and given in the environment (as site/README.md
 * recommends), and tests/support/sso_proxy.ts in front as the public origin. The proxy's port can
 * be chosen up front (`proxyPort`, e.g. freePort()) so servers that must know the site's origin
 * (Centrifugo's allowed_origins) can start first.
 */
import { type Proc, startMainTs } from "./processes.ts";
import { type SsoProxy, type SsoProxyOptions, startSsoProxy } from "./sso_proxy.ts";

export interface SiteStackOptions {
  livekit: { url: string; apiKey: string; apiSecret: string };
  centrifugo: { url: string; apiUrl: string; apiKey: string; tokenSecret: string };
  /** Default: one engine "demo" open to everyone. */
  engines?: { id: string; label?: string; groups?: string[] }[];
  /** Other upstreams behind the same proxy (e.g. Centrifugo's `/connection/`). */
  routes?: SsoProxyOptions["routes"];
  /** The proxy's (the public origin's) port; default a free one. */
  proxyPort?: number;
  /** Which forward-auth headers the proxy sets and the site reads (default authentik). */
  preset?: "authentik" | "oauth2-proxy";
  /** The `login` in every 401 (default the stand-in's `/login?rd=/`). */
  login?: string;
  tokenTtlSeconds?: number;
  /** More keys of the site's config (e.g. `operators`, `public`). */
  extraConfig?: Record<string, unknown>;
  /** Extra environment for the site. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface SiteStack {
  /** The public origin (the proxy), e.g. http://127.0.0.1:PORT. */
  url: string;
  proxy: SsoProxy;
  site: Proc;
  sitePort: number;
  configPath: string;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export async function startSiteStack(o: SiteStackOptions): Promise<SiteStack> {
  const sitePort = freePort();
  const proxy = await startSsoProxy({
    upstream: `http://127.0.0.1:${sitePort}`,
    routes: o.routes,
    port: o.proxyPort,
    identity: o.preset,
  });
  const dir = await Deno.makeTempDir({ prefix: "smx-site-" });
  const configPath = `${dir}/site.json`;
  try {
    await Deno.writeTextFile(
      configPath,
      JSON.stringify(
        {
          listen: { hostname: "127.0.0.1", port: sitePort },
          publicOrigin: proxy.url,
          trustedProxies: ["127.0.0.1"],
          auth: { preset: o.preset ?? "authentik", login: o.login ?? "/login?rd=/" },
          livekit: { url: o.livekit.url, apiKey: o.livekit.apiKey },
          centrifugo: { url: o.centrifugo.url, apiUrl: o.centrifugo.apiUrl },
          tokenTtlSeconds: o.tokenTtlSeconds ?? 600,
          engines: o.engines ?? [{ id: "demo", label: "Demo engine" }],
          ...o.extraConfig,
        },
        null,
        2,
      ),
    );
    const site = await startMainTs(["site", "--config", configPath], {
      env: {
        SMX_SITE_LIVEKIT_SECRET: o.livekit.apiSecret,
        SMX_SITE_CENTRIFUGO_SECRET: o.centrifugo.tokenSecret,
        SMX_SITE_CENTRIFUGO_API_KEY: o.centrifugo.apiKey,
        ...o.env,
      },
      timeoutMs: o.timeoutMs ?? 60000,
    });
    return {
      url: proxy.url,
      proxy,
      site,
      sitePort,
      configPath,
      stop: async () => {
        await site.kill();
        await proxy.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await proxy.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

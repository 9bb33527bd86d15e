/**
 * The site as a runtime-neutral app: the UI bundle (with the WAN reach meta) and, on the same
 * origin, the token API of protocol/wan.ts:
 *
 *   GET  /api/wan/session                  → SessionInfo
 *   GET  /api/wan/engines                  → EngineEntry[] (the engines this user may open)
 *   POST /api/wan/token {engine}           → JoinTokens
 *   POST /api/wan/token/connection {engine}           → {token, expiresAt} (Centrifugo refresh)
 *   POST /api/wan/token/subscription {engine, channel} → SubscriptionToken
 *
 * Roles (audience.ts): an operator gets every token; a viewer gets no smx_ctl subscription token
 * (403), so cannot write. On a public site a visitor without a sign-in is an anonymous viewer
 * whose token requests are rate-limited (429 JSON with Retry-After).
 *
 * Every /api/wan/* answer without a signed-in user (on a site that is not public) is 401 `SignedOut` (JSON, with the sign-in
 * URL), never a redirect: a page's fetch must be able to tell "signed out" from an outage. An
 * engine the user may not open and a channel that is not one of its three are 403 alike.
 *
 * The Deno adapter (serve.ts) hands each request's peer address in as the binding `peer`
 * (forward-auth headers count only from a trusted proxy). Host/Origin checks and the security
 * headers wrap every answer, refusals and errors included.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import {
  channelOf,
  type EngineEntry,
  type JoinTokens,
  parseChannel,
  type SessionInfo,
  type SignedOut,
  type SubscriptionToken,
} from "../protocol/wan.ts";
import { identityOf, type User } from "./auth.ts";
import type { SiteConfig } from "./config.ts";
import type { EngineDirectory } from "./engines.ts";
import { rateLimited } from "../server/log.ts";
import { audienceChannel } from "../protocol/audience.ts";
import { AnonymousMint, anonymousUser, clientAddress, roleOf } from "./audience.ts";
import { checkRequest } from "./guard.ts";
import { securedSite, sitePolicy } from "./headers.ts";
import type { SitePages } from "./page.ts";
import {
  centrifugoConnectionToken,
  centrifugoSubscriptionToken,
  livekitViewerToken,
} from "./tokens.ts";
import { readCappedText } from "../server/http/capped_body.ts";

export interface SitePeer {
  /** The address the connection came from (the SSO proxy's, for requests it forwards). */
  address: string;
}

export interface SiteEnv {
  Bindings: { peer: SitePeer };
  Variables: { user: User; anonymous: boolean };
}

export interface SiteDeps {
  config: SiteConfig;
  pages: SitePages;
  engines: EngineDirectory;
  log?: (m: string) => void;
}

export interface SiteApp {
  fetch(req: Request, env: { peer: SitePeer }): Promise<Response>;
}

const MAX_BODY = 4096;

type ApiError = { error: string; message: string };

function apiError(
  c: Context<SiteEnv>,
  status: 400 | 403 | 404 | 405 | 413 | 415,
  e: ApiError,
) {
  return c.json(e, status);
}

/** The JSON body of a token request, or the 400/413/415 answer. */
async function readBody(c: Context<SiteEnv>): Promise<Record<string, unknown> | Response> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    return apiError(c, 415, { error: "bad_request", message: "send application/json" });
  }
  const text = await readCappedText(c.req.raw, MAX_BODY);
  if (text === null) {
    return apiError(c, 413, { error: "bad_request", message: `body over ${MAX_BODY} bytes` });
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* below */ }
  return apiError(c, 400, { error: "bad_request", message: "body must be a JSON object" });
}

export function siteRoutes(deps: SiteDeps): Hono<SiteEnv> {
  const { config, engines } = deps;
  const app = new Hono<SiteEnv>();
  const signedOut: SignedOut = {
    error: "signed_out",
    message: "Sign in to open an engine.",
    login: config.auth.login,
  };
  const forbidden = (c: Context<SiteEnv>, message: string) =>
    apiError(c, 403, { error: "forbidden", message });

  // A public site's visitors without a sign-in are anonymous viewers (audience.ts).
  const mint = config.public ? new AnonymousMint(config) : undefined;
  app.use("/api/wan/*", async (c, next) => {
    const peer = c.env?.peer?.address ?? "";
    const user = identityOf(c.req.raw.headers, peer, config);
    if (user) {
      c.set("user", user);
      c.set("anonymous", false);
      return await next();
    }
    if (!mint) return c.json(signedOut, 401);
    if (c.req.path.startsWith("/api/wan/token")) {
      const v = mint.take(clientAddress(c.req.raw.headers, peer, config));
      if (!v.ok) {
        return c.json(
          {
            error: "rate_limited",
            message: `too many token requests from ${v.scope}; retry in ${v.retryAfterS} s`,
            retryAfter: v.retryAfterS,
          },
          429,
          { "retry-after": String(v.retryAfterS) },
        );
      }
    }
    let id = await mint.idFrom(c.req.raw.headers);
    let setCookie: string | undefined;
    if (!id) ({ id, setCookie } = await mint.issue());
    c.set("user", anonymousUser(id));
    c.set("anonymous", true);
    await next();
    if (setCookie) c.res.headers.append("set-cookie", setCookie);
  });
  const role = (c: Context<SiteEnv>) => roleOf(c.get("user"), c.get("anonymous"), config);

  /** The engine named in a token request's body, if this user may open it; else the answer. */
  const engineOf = async (c: Context<SiteEnv>) => {
    const body = await readBody(c);
    if (body instanceof Response) return body;
    const id = body.engine;
    if (typeof id !== "string") {
      return apiError(c, 400, { error: "bad_request", message: "engine must be a string" });
    }
    const engine = engines.find(id, c.get("user"));
    if (!engine) return forbidden(c, `no engine ${JSON.stringify(id)} for you`);
    return { engine, body };
  };

  app.get("/api/wan/session", (c) => {
    const info: SessionInfo = {
      user: c.get("user"),
      role: role(c),
      ...(c.get("anonymous") ? { anonymous: true } : {}),
    };
    return c.json(info);
  });

  app.get("/api/wan/engines", async (c) => {
    const list: EngineEntry[] = await engines.list(c.get("user"));
    return c.json(list);
  });

  app.post("/api/wan/token", async (c) => {
    const r = await engineOf(c);
    if (r instanceof Response) return r;
    const user = c.get("user");
    const id = r.engine.id;
    const [lk, cf] = await Promise.all([
      livekitViewerToken(config, user, id),
      centrifugoConnectionToken(config, user),
    ]);
    const out: JoinTokens = {
      engine: id,
      role: role(c),
      livekit: { url: config.livekit.url, room: lk.room, token: lk.token, expiresAt: lk.expiresAt },
      centrifugo: {
        url: config.centrifugo.url,
        token: cf.token,
        channels: {
          state: channelOf("state", id),
          params: channelOf("params", id),
          ctl: channelOf("ctl", id),
        },
        expiresAt: cf.expiresAt,
      },
    };
    return c.json(out);
  });

  app.post("/api/wan/token/connection", async (c) => {
    const r = await engineOf(c);
    if (r instanceof Response) return r;
    const out: SubscriptionToken = await centrifugoConnectionToken(config, c.get("user"));
    return c.json(out);
  });

  app.post("/api/wan/token/subscription", async (c) => {
    const r = await engineOf(c);
    if (r instanceof Response) return r;
    const channel = r.body.channel;
    if (typeof channel !== "string") {
      return apiError(c, 400, { error: "bad_request", message: "channel must be a string" });
    }
    // The audience batch channel is every role's to read (smx_react's never: only smx reads it).
    if (channel === audienceChannel("aud", r.engine.id)) {
      return c.json(await centrifugoSubscriptionToken(config, c.get("user"), channel));
    }
    const parsed = parseChannel(channel);
    if (!parsed || parsed.engine !== r.engine.id) {
      return forbidden(c, `${JSON.stringify(channel)} is not a channel of ${r.engine.id}`);
    }
    // smx_ctl's subscription token is the publish grant: a viewer never gets one (issue 11).
    if (parsed.kind === "ctl" && role(c) === "viewer") {
      return forbidden(c, "viewers watch only: no smx_ctl token (parameter writes are refused)");
    }
    const out: SubscriptionToken = await centrifugoSubscriptionToken(
      config,
      c.get("user"),
      channel,
    );
    return c.json(out);
  });

  app.all("/api/*", (c) => {
    const known = ["/api/wan/session", "/api/wan/engines", "/api/wan/token"].some((p) =>
      c.req.path === p || c.req.path.startsWith("/api/wan/token/")
    );
    return known
      ? apiError(c, 405, { error: "method_not_allowed", message: `${c.req.method} not allowed` })
      : apiError(c, 404, { error: "not_found", message: "no such API" });
  });

  app.on(["GET", "HEAD"], "*", (c) => {
    const asset = deps.pages.get(c.req.path);
    if (!asset) {
      if (deps.pages.error) return c.text("the UI is not available (its build failed)", 500);
      return c.text("not found", 404);
    }
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      etag: asset.etag,
      "cache-control": "no-cache",
    });
  });
  app.all("*", (c) => c.text("method not allowed", 405));

  app.onError((err, c) => {
    deps.log?.(`error on ${c.req.method} ${c.req.path}: ${err.message}`);
    // Never the message: it could quote a configuration value.
    return c.json({ error: "internal", message: "internal error" }, 500);
  });
  return app;
}

export function createSite(deps: SiteDeps): SiteApp {
  const routes = siteRoutes(deps);
  const policy = sitePolicy(deps.config);
  const refusals = rateLimited(deps.log ?? (() => {}), {
    summary: (key, n, s) => `${n} more refused (${key}) in the last ${s} s`,
  });
  return {
    async fetch(req, env) {
      const path = new URL(req.url).pathname;
      const v = checkRequest(req, env.peer.address, deps.config);
      if (!v.ok) {
        // Rate-limited: a wrong Host usually means a proxy that rewrites it (see README).
        refusals(
          String(v.status),
          `refused ${req.method} ${path} from ${env.peer.address}: ${v.reason}`,
        );
        return securedSite(new Response(`${v.reason}\n`, { status: v.status }), path, policy);
      }
      let res: Response;
      try {
        res = await routes.fetch(req, env);
      } catch (e) {
        deps.log?.(`error on ${req.method} ${path}: ${(e as Error).message}`);
        res = new Response("internal error\n", { status: 500 });
      }
      return securedSite(res, path, policy);
    },
  };
}

/**
 * TEST CODE ONLY: a stand-in for a single sign-on proxy, used by the site's tests and the WAN
 * end-to-end tests, never by smx or the site. It is a real reverse proxy (Deno.serve in front,
 * node:http to the upstream so `Host` is kept as Caddy and Traefik keep it; bodies stream both
 * ways; WebSocket upgrades are relayed message by message) that behaves like Authentik's forward
 * auth behind Caddy/Traefik:
 *
 * - `GET /login?user=alice&groups=a|b[&name=…&email=…&rd=/path]` signs in: sets a session cookie
 *   and redirects (302) to `rd` or `/`. `GET /login` without `user` is a small sign-in form;
 *   `GET /logout` ends the session.
 * - Every request: client-sent `X-authentik-*` and `X-Forwarded-*` headers are removed; the proxy
 *   sets X-Forwarded-For/-Proto/-Host itself.
 * - With a session: `X-authentik-uid` (a hash of the user name, like Authentik's hashed id),
 *   `-username`, `-name`, `-email`, `-groups` (pipe-separated) are set on the upstream request
 *   (or, with `identity: "oauth2-proxy"`, oauth2-proxy's X-Forwarded-User/-Preferred-Username/
 *   -Email/-Groups).
 * - Without a session: a path under `skipAuth` (default `/api/`; Authentik's "unauthenticated
 *   paths", so the site's own 401 JSON reaches the page's fetch) is passed through with no
 *   identity; any other request is answered 302 to `/login?rd=<path>` (what Caddy/Traefik forward
 *   auth does, and why a page's background fetch must never depend on it).
 * - `routes`: path prefixes sent to another upstream (e.g. Centrifugo's `/connection/`), under the
 *   same session rule.
 *
 * Listens on 127.0.0.1 with a free port (or `port`); connects to the upstream from 127.0.0.1 (the
 * address the site is told to trust). tests/support/site.ts puts it in front of `smx site`.
 */
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

export interface SsoProxyOptions {
  /** The site (or any upstream), e.g. http://127.0.0.1:7400. */
  upstream: string;
  /** Path prefixes passed through without a session (no identity headers). Default ["/api/"]. */
  skipAuth?: string[];
  /** Other upstreams by path prefix (first match wins), e.g. {prefix: "/connection/", …}. */
  routes?: { prefix: string; upstream: string }[];
  /** Cookie name (default "sso_session"). */
  cookie?: string;
  /** Listen port (default: any free one). */
  port?: number;
  /**
   * Which proxy's identity headers to set: Authentik's (default) or oauth2-proxy's
   * (X-Forwarded-User = the OIDC subject, -Preferred-Username, -Email, -Groups comma-separated).
   */
  identity?: "authentik" | "oauth2-proxy";
}

export interface SsoUser {
  username: string;
  uid: string;
  name: string;
  email: string;
  groups: string[];
}

export interface SsoProxy {
  /** http://127.0.0.1:PORT: the public origin the browser uses. */
  url: string;
  port: number;
  /** Signs `user` in without a browser; returns the Cookie header value to send. */
  signIn(user: string, groups?: string[]): Promise<string>;
  /** How many requests went upstream (for tests that want to know the proxy was crossed). */
  forwarded(): number;
  close(): Promise<void>;
}

const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

async function uidOf(username: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`sso:${username}`));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function cookieValue(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

const LOGIN_FORM = `<!doctype html><meta charset="utf-8"><title>Sign in</title>
<form method="get" action="/login"><label>user <input name="user" autofocus></label>
<label>groups <input name="groups" placeholder="a|b"></label><button>Sign in</button></form>`;

export async function startSsoProxy(opts: SsoProxyOptions): Promise<SsoProxy> {
  const cookieName = opts.cookie ?? "sso_session";
  const skip = opts.skipAuth ?? ["/api/"];
  const sessions = new Map<string, SsoUser>();
  let forwarded = 0;

  const newSession = async (
    username: string,
    groups: string[],
    name?: string,
    email?: string,
  ): Promise<string> => {
    const id = crypto.randomUUID();
    sessions.set(id, {
      username,
      uid: await uidOf(username),
      name: name ?? username,
      email: email ?? `${username}@example.test`,
      groups,
    });
    return id;
  };

  const upstreamFor = (path: string): string =>
    opts.routes?.find((r) => path.startsWith(r.prefix))?.upstream ?? opts.upstream;

  /** The headers the upstream gets: the client's, cleaned, plus forwarding and identity. */
  const upstreamHeaders = (req: Request, client: string, user?: SsoUser): Headers => {
    const h = new Headers();
    const connectionTokens = (req.headers.get("connection") ?? "").toLowerCase().split(",")
      .map((s) => s.trim());
    for (const [k, v] of req.headers) {
      const key = k.toLowerCase();
      if (HOP.has(key) || connectionTokens.includes(key)) continue;
      if (key.startsWith("x-authentik-") || key.startsWith("x-forwarded-")) continue;
      h.append(k, v);
    }
    const u = new URL(req.url);
    h.set("x-forwarded-for", client);
    h.set("x-forwarded-proto", u.protocol.replace(":", ""));
    h.set("x-forwarded-host", req.headers.get("host") ?? u.host);
    if (user && opts.identity === "oauth2-proxy") {
      h.set("x-forwarded-user", user.uid);
      h.set("x-forwarded-preferred-username", user.username);
      h.set("x-forwarded-email", user.email);
      h.set("x-forwarded-groups", user.groups.join(","));
    } else if (user) {
      h.set("x-authentik-username", user.username);
      h.set("x-authentik-uid", user.uid);
      h.set("x-authentik-name", user.name);
      h.set("x-authentik-email", user.email);
      h.set("x-authentik-groups", user.groups.join("|"));
    }
    return h;
  };

  const proxyHttp = (req: Request, target: URL, headers: Headers): Promise<Response> => {
    const { promise, resolve } = Promise.withResolvers<Response>();
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of headers) {
      if (k === "set-cookie") continue;
      out[k] = v;
    }
    const up = httpRequest({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: target.pathname + target.search,
      headers: out,
      localAddress: "127.0.0.1",
    }, (res: IncomingMessage) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined || HOP.has(k)) continue;
        for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
      }
      const status = res.statusCode ?? 502;
      const noBody = req.method === "HEAD" || status === 204 || status === 304;
      if (noBody) res.resume();
      resolve(
        new Response(
          noBody ? null : Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>,
          { status, statusText: res.statusMessage, headers: h },
        ),
      );
    });
    up.on(
      "error",
      (e: Error) => resolve(new Response(`bad gateway: ${e.message}\n`, { status: 502 })),
    );
    if (req.body) {
      (async () => {
        try {
          for await (const chunk of req.body!) {
            if (!up.write(chunk)) await new Promise((r) => up.once("drain", r));
          }
          up.end();
        } catch (e) {
          up.destroy(e as Error);
        }
      })();
    } else {
      up.end();
    }
    return promise;
  };

  const proxyWebSocket = async (req: Request, target: URL, headers: Headers) => {
    target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
    const protocols = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) =>
      s.trim()
    ).filter(Boolean);
    for (const k of [...headers.keys()]) {
      if (k.startsWith("sec-websocket-") || k === "host") headers.delete(k);
    }
    // Deno's WebSocket takes extra headers (Origin, Cookie, identity) as a non-standard option.
    const WS = WebSocket as unknown as new (
      url: string,
      o: { protocols?: string[]; headers: Headers },
    ) => WebSocket;
    const up = new WS(target.href, { protocols, headers });
    up.binaryType = "arraybuffer";
    const opened = await new Promise<boolean>((resolve) => {
      up.onopen = () => resolve(true);
      up.onerror = () => resolve(false);
    });
    if (!opened) return new Response("bad gateway (WebSocket)\n", { status: 502 });
    const { socket, response } = Deno.upgradeWebSocket(req, {
      protocol: up.protocol || undefined,
    });
    socket.binaryType = "arraybuffer";
    const pending: (string | ArrayBuffer)[] = [];
    up.onmessage = (e) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
      else pending.push(e.data);
    };
    socket.onopen = () => {
      for (const m of pending.splice(0)) socket.send(m);
    };
    socket.onmessage = (e) => up.readyState === WebSocket.OPEN && up.send(e.data);
    const closeCode = (code: number) => code === 1000 || (code >= 3000 && code <= 4999);
    up.onclose = (e) => {
      if (socket.readyState > WebSocket.OPEN) return;
      if (closeCode(e.code)) socket.close(e.code, e.reason);
      else socket.close();
    };
    socket.onclose = (e) => {
      if (up.readyState > WebSocket.OPEN) return;
      if (closeCode(e.code)) up.close(e.code, e.reason);
      else up.close();
    };
    up.onerror = () => socket.readyState <= WebSocket.OPEN && socket.close();
    socket.onerror = () => up.readyState <= WebSocket.OPEN && up.close();
    return response;
  };

  const handler = async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const url = new URL(req.url);
    const client = (info.remoteAddr as Deno.NetAddr).hostname;
    if (url.pathname === "/login") {
      const user = url.searchParams.get("user");
      if (!user) {
        return new Response(LOGIN_FORM, { headers: { "content-type": "text/html" } });
      }
      const groups = (url.searchParams.get("groups") ?? "").split("|").filter(Boolean);
      const id = await newSession(
        user,
        groups,
        url.searchParams.get("name") ?? undefined,
        url.searchParams.get("email") ?? undefined,
      );
      const rd = url.searchParams.get("rd") ?? "/";
      return new Response(null, {
        status: 302,
        headers: {
          location: rd.startsWith("/") && !rd.startsWith("//") ? rd : "/",
          "set-cookie": `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax`,
        },
      });
    }
    if (url.pathname === "/logout") {
      const id = cookieValue(req.headers.get("cookie"), cookieName);
      if (id) sessions.delete(id);
      return new Response(null, {
        status: 302,
        headers: { location: "/login", "set-cookie": `${cookieName}=; Path=/; Max-Age=0` },
      });
    }
    const id = cookieValue(req.headers.get("cookie"), cookieName);
    const user = id ? sessions.get(id) : undefined;
    if (!user && !skip.some((p) => url.pathname.startsWith(p))) {
      return new Response(null, {
        status: 302,
        headers: { location: `/login?rd=${encodeURIComponent(url.pathname + url.search)}` },
      });
    }
    const target = new URL(url.pathname + url.search, upstreamFor(url.pathname));
    const headers = upstreamHeaders(req, client, user);
    forwarded++;
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return await proxyWebSocket(req, target, headers);
    }
    return await proxyHttp(req, target, headers);
  };

  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: opts.port ?? 0, onListen: resolve },
    handler,
  );
  const addr = await promise;
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    url,
    port: addr.port,
    signIn: async (user, groups = []) => {
      const res = await fetch(
        `${url}/login?user=${encodeURIComponent(user)}&groups=${
          encodeURIComponent(groups.join("|"))
        }`,
        { redirect: "manual" },
      );
      await res.body?.cancel();
      const set = res.headers.get("set-cookie") ?? "";
      const value = set.split(";")[0];
      if (res.status !== 302 || !value.startsWith(`${cookieName}=`)) {
        throw new Error(`sso stand-in: sign-in failed (${res.status})`);
      }
      return value;
    },
    forwarded: () => forwarded,
    close: async () => {
      await server.shutdown();
    },
  };
}

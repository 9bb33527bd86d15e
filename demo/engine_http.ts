/**
 * The demo engine's HTTP/WS listener: `GET /hello` (public summary, or the full descriptor with
 * the token), `GET /ws/hub` (parameter hub, token required) and, with `debug`, `/debug/stats`
 * and `POST /debug/churn?rate=N` (token required) for tests and benchmarks.
 */
import {
  ENGINE_KIND,
  ENGINE_PROTOCOL_VERSION,
  type EngineDescriptor,
  type EngineHelloPublic,
  type FrameSenderInfo,
} from "../protocol/engine_descriptor.ts";
import type { ParamHub } from "./hub.ts";
import { checkHostAndOrigin, requestToken, tokenMatches } from "./http_guard.ts";

export interface EngineIdentity {
  name: string;
  version: string;
  instanceId: string;
  pid: number;
  startedUtc: string;
  token: string;
  specName: string;
}

export interface EngineHttpDeps {
  id: EngineIdentity;
  hub: ParamHub;
  senders: () => FrameSenderInfo[];
  loopbackOnly: boolean;
  debug: boolean;
  churn: (rate: number) => void;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });

export function describe(deps: EngineHttpDeps): EngineDescriptor {
  const { id, hub } = deps;
  const visible = hub.channels.filter((c) => !c.hidden);
  const senders = deps.senders();
  return {
    ...publicHello(id, false),
    authRequired: false,
    channels: {
      count: hub.channels.length,
      groups: [...new Set(visible.map((c) => c.group))],
      pages: [...new Set(visible.map((c) => c.page))],
      spec: id.specName,
    },
    senders,
    transports: {
      hub: "/ws/hub",
      frameRing: senders.filter((s) => s.transport === "frame-ring").map((s) => s.name),
      spout: senders.filter((s) => s.transport === "spout").map((s) => s.name),
    },
  };
}

function publicHello(id: EngineIdentity, authRequired: boolean): EngineHelloPublic {
  return {
    kind: ENGINE_KIND,
    protocol: ENGINE_PROTOCOL_VERSION,
    name: id.name,
    version: id.version,
    instanceId: id.instanceId,
    pid: id.pid,
    startedUtc: id.startedUtc,
    authRequired,
  };
}

export function engineHandler(deps: EngineHttpDeps): (req: Request) => Response {
  const { id } = deps;
  return (req) => {
    const refused = checkHostAndOrigin(req, { token: id.token, loopbackOnly: deps.loopbackOnly });
    if (refused) return refused;
    const url = new URL(req.url);
    const authed = tokenMatches(requestToken(req, url), id.token);
    if (url.pathname === "/hello" && req.method === "GET") {
      return json(authed ? describe(deps) : publicHello(id, true));
    }
    if (url.pathname === "/ws/hub") {
      if (!authed) return json({ error: "unauthorized", message: "token required" }, 401);
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return json({ error: "bad_request", message: "expected a WebSocket upgrade" }, 426);
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      deps.hub.attach(socket);
      return response;
    }
    if (deps.debug && url.pathname.startsWith("/debug/")) {
      if (!authed) return json({ error: "unauthorized", message: "token required" }, 401);
      if (url.pathname === "/debug/stats") return json(deps.hub.stats);
      if (url.pathname === "/debug/churn" && req.method === "POST") {
        const rate = Number(url.searchParams.get("rate") ?? "0");
        if (!Number.isFinite(rate) || rate < 0 || rate > 1e6) {
          return json({ error: "bad_request", message: "rate must be 0..1000000" }, 400);
        }
        deps.churn(rate);
        return json({ ok: true, rate });
      }
    }
    return json({ error: "not_found", message: `${req.method} ${url.pathname}` }, 404);
  };
}

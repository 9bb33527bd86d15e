/**
 * A minimal smx stand-in for tests and the params benchmark: `/ws/params` served by
 * serveParamClient over a ParamMirror, on a free loopback port. (The real app mounts the same
 * function in Hono; this keeps these tests independent of the rest of the server.)
 */
import { ParamMirror } from "../../server/engine/param_mirror.ts";
import {
  type ParamClientHandle,
  serveParamClient,
  type ServeParamOptions,
} from "../../server/params/serve_param_client.ts";

export interface ParamServer {
  url: string;
  clients: ParamClientHandle[];
  close(): Promise<void>;
}

export function startParamServer(mirror: ParamMirror, opts: ServeParamOptions = {}): ParamServer {
  const clients: ParamClientHandle[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/ws/params") return new Response("nope", { status: 404 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    clients.push(serveParamClient(socket, mirror, opts));
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/ws/params`,
    clients,
    close: async () => {
      for (const c of clients) c.close(1001, "test over");
      await server.shutdown();
    },
  };
}

/**
 * What a client gets while smx is at its connection ceiling. A WebSocket upgrade is accepted and
 * closed at once with 1013 "try again later" and a reason: a browser's WebSocket never learns the
 * HTTP status of a refused handshake (it sees a bare close 1006, the same as "smx is down"), but
 * it does see a close code and reason, which the UI can show and back off on. That socket costs
 * no descriptor beyond the TCP connection the client already opened, and lives for one close
 * handshake. Any other request gets 503 with Retry-After.
 */

/** Seconds a refused client is asked to wait. */
export const RETRY_AFTER_S = 5;

export function busyResponse(req: Request, max: number): Response {
  const text = `smx is at its connection limit (${max}); try again later`;
  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
    try {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.addEventListener("open", () => socket.close(1013, text), { once: true });
      return response;
    } catch { /* not a valid upgrade request: it gets the 503 below */ }
  }
  return new Response(`${text} (retry in ${RETRY_AFTER_S} s)\n`, {
    status: 503,
    headers: {
      "retry-after": String(RETRY_AFTER_S),
      "cache-control": "no-store",
      "content-type": "text/plain; charset=utf-8",
    },
  });
}

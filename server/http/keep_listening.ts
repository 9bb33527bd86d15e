/**
 * Keeps a Deno.serve server listening. Deno.serve's accept loop ends for good on the first error
 * accept() returns, EMFILE ("Too many open files") included: the listening socket is closed and
 * `finished` rejects with that error, which, unhandled, makes Deno exit. (Connections accepted
 * before, open WebSockets among them, live on.) So this watches `finished` and, when the loop died
 * rather than was shut down, serves again on the same port, with back-off while the bind fails
 * (it needs a descriptor too).
 */

export interface KeepListeningOptions {
  /** One line per death and per failed restart; callers rate-limit. */
  log?: (msg: string) => void;
  /** First delay before serving again, in ms (default 50); doubles per failure up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface KeptListening {
  /** How often the accept loop died and was started again. */
  restarts(): number;
  /** Shuts down the current server and the remains of dead ones; stops restarting. */
  shutdown(): Promise<void>;
}

/**
 * `serve` must start Deno.serve on the same address each time. Its first call runs now and its
 * exceptions (port in use…) are the caller's; later ones are retried.
 */
export function keepListening(
  serve: () => Deno.HttpServer,
  o: KeepListeningOptions = {},
): KeptListening {
  const log = o.log ?? (() => {});
  const minDelay = o.minDelayMs ?? 50;
  const maxDelay = o.maxDelayMs ?? 2000;
  const servers: Deno.HttpServer[] = [];
  let stopping = false;
  let restarts = 0;
  let delay = minDelay;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const retryLater = () => {
    timer = setTimeout(serveAgain, delay);
    delay = Math.min(delay * 2, maxDelay);
  };
  const serveAgain = () => {
    timer = undefined;
    if (stopping) return;
    try {
      adopt(serve());
    } catch (e) {
      log(`listening again failed: ${(e as Error).message}; next try in ${delay} ms`);
      return retryLater();
    }
    restarts++;
    delay = minDelay;
    log("listening again");
  };
  const adopt = (server: Deno.HttpServer) => {
    servers.push(server);
    server.finished.catch((e: Error) => {
      if (stopping) return;
      log(`stopped accepting connections: ${e.message}; listening again in ${delay} ms`);
      retryLater();
    });
  };

  adopt(serve());
  return {
    restarts: () => restarts,
    async shutdown() {
      stopping = true;
      clearTimeout(timer);
      await Promise.all(servers.map((s) => s.shutdown().catch(() => {})));
    },
  };
}

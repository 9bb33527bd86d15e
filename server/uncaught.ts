/**
 * The last line of defence of `smx start`: an error nobody caught (a promise rejected with nobody
 * awaiting it, an exception thrown in a timer or an event listener) is logged, and smx keeps
 * running. Deno's default is to exit, which takes every viewer down and, with smx, the demo
 * engine it started. Until smx is up, the same error is fatal instead: exiting non-zero with the
 * message beats hanging half-started.
 */
import { rateLimited } from "./log.ts";

export interface UncaughtOptions {
  /** Written for each uncaught error (rate-limited per error name). */
  log: (msg: string) => void;
  /** Whether smx is up; until then an uncaught error goes to `fatal`. */
  started: () => boolean;
  fatal: (msg: string) => void;
}

function describe(reason: unknown): { name: string; text: string } {
  if (reason instanceof Error) {
    return { name: reason.name, text: reason.stack ?? `${reason.name}: ${reason.message}` };
  }
  return { name: "non-Error", text: String(reason) };
}

/** Installs the handlers; returns their removal. */
export function keepRunningOnUncaught(o: UncaughtOptions): () => void {
  const log = rateLimited(o.log);
  const report = (kind: string, reason: unknown) => {
    const { name, text } = describe(reason);
    if (!o.started()) return o.fatal(`${kind} during start-up: ${text}`);
    log(`${kind} ${name}`, `${kind} (smx keeps running): ${text}`);
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    report("unhandled rejection", e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    report("uncaught exception", e.error ?? e.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
    log.flush();
  };
}

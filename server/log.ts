/** A levelled logger writing one line per event to stderr (stdout stays for the CLI's report). */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

export function createLogger(level: LogLevel, scope = "smx"): Logger {
  const enc = new TextEncoder();
  const at = (l: LogLevel) => (msg: string) => {
    if (ORDER[l] < ORDER[level]) return;
    const line = `${new Date().toISOString()} ${l.padEnd(5)} ${scope}: ${msg}\n`;
    Deno.stderr.writeSync(enc.encode(line));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export interface RateLimitOptions {
  /** Lines written per key before that key is only counted. Default 5. */
  burst?: number;
  /** How often the counted lines are summed up, in ms. Default 10000. */
  intervalMs?: number;
  /** The summary line for `count` lines of `key` left out over the last `seconds`. */
  summary?: (key: string, count: number, seconds: number) => string;
}

export interface RateLimitedLog {
  /** Writes `msg`, or only counts it when `key` has already written `burst` lines. */
  (key: string, msg: string): void;
  /** Writes the pending summaries now and forgets every key (at shutdown; in tests). */
  flush(): void;
}

/**
 * A log for events that can come in floods (refused requests, uncaught errors): per key, the first
 * `burst` lines are written, then only one summary line per interval while the flood lasts, so a
 * flood of events never becomes a flood of log lines. A key that stays quiet for a whole interval
 * starts over with `burst` lines. Keys must be few (a reason or a status), never a client's text.
 */
export function rateLimited(
  write: (msg: string) => void,
  o: RateLimitOptions = {},
): RateLimitedLog {
  const burst = o.burst ?? 5;
  const intervalMs = o.intervalMs ?? 10000;
  const summary = o.summary ??
    ((key, n, s) => `${n} more "${key}" line${n === 1 ? "" : "s"} left out in the last ${s} s`);
  // `hot`: the key flooded in the previous interval, so its next lines are summed up at once.
  const keys = new Map<string, { since: number; written: number; counted: number; hot: boolean }>();
  let timer: ReturnType<typeof setInterval> | undefined;

  const sumUp = (final: boolean) => {
    const now = Date.now();
    for (const [key, k] of keys) {
      if (k.counted > 0) {
        write(summary(key, k.counted, Math.max(1, Math.round((now - k.since) / 1000))));
        Object.assign(k, { since: now, counted: 0, hot: true });
      } else if (k.hot || now - k.since >= intervalMs) keys.delete(key);
    }
    if (final) keys.clear();
    if (timer !== undefined && (final || ![...keys.values()].some((k) => k.hot))) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const log = (key: string, msg: string) => {
    const now = Date.now();
    let k = keys.get(key);
    if (!k || (!k.hot && now - k.since >= intervalMs)) {
      k = { since: now, written: 0, counted: 0, hot: false };
      keys.set(key, k);
    }
    if (!k.hot && k.written < burst) {
      k.written++;
      write(msg);
      return;
    }
    k.counted++;
    if (timer === undefined) {
      timer = setInterval(() => sumUp(false), intervalMs);
      Deno.unrefTimer(timer); // a pending summary must not keep the process alive
    }
  };
  return Object.assign(log, { flush: () => sumUp(true) });
}

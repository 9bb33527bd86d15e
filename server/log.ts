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

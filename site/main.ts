/**
 * `smx site --config FILE [--port N]`: the public site (site/README.md). main.ts imports this
 * only for the `site` command.
 */
import { parseArgs } from "node:util";
import { raiseOpenFilesLimit } from "../ffi/limits.ts";
import { createLogger, isLogLevel } from "../server/log.ts";
import { keepRunningOnUncaught } from "../server/uncaught.ts";
import { ConfigError, loadConfig } from "./config.ts";

export const SITE_HELP = `usage: smx site --config FILE [flags]

The public site: serves the smx UI behind a single sign-on proxy and, for a signed-in user, mints
short-lived LiveKit and Centrifugo tokens for the engines listed in FILE (see site/README.md and
site/site.sample.json).

flags (each also from an environment variable):
  --config FILE        the site's JSON config (SMX_SITE_CONFIG)
  --port N             listen port, overriding listen.port (SMX_SITE_PORT; 0 = any free port)
  --log-level L        debug | info | warn | error (SMX_LOG_LEVEL, default info)
  --dev                rebuild the UI when ui/ changes
  -h, --help           this text

secrets (override the file): SMX_SITE_LIVEKIT_SECRET, SMX_SITE_CENTRIFUGO_SECRET,
SMX_SITE_CENTRIFUGO_API_KEY; SMX_SITE_LIVEKIT_KEY for the LiveKit API key.
`;

function fail(msg: string): never {
  console.error(`smx site: ${msg}\n(run smx site --help for usage)`);
  Deno.exit(2);
}

export async function runSiteCli(argv: string[]): Promise<void> {
  const env = (k: string) => Deno.env.get(k);
  let f;
  try {
    ({ values: f } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", default: env("SMX_SITE_CONFIG") },
        port: { type: "string", default: env("SMX_SITE_PORT") },
        "log-level": { type: "string", default: env("SMX_LOG_LEVEL") ?? "info" },
        dev: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (f.help) return console.log(SITE_HELP);
  if (!f.config) fail("--config FILE is required");
  const level = f["log-level"]!;
  if (!isLogLevel(level)) fail(`--log-level ${level}: debug, info, warn or error`);
  let config;
  try {
    config = await loadConfig(f.config);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  if (f.port !== undefined) {
    const port = Number(f.port);
    if (!/^\d+$/.test(f.port) || port > 65535) fail(`--port ${f.port}: 0..65535`);
    config.listen.port = port;
  }
  const log = createLogger(level, "smx site");
  // Every viewer's token request and page load holds a socket: a default soft limit of 1,024
  // runs out first (issue 11). Raised to the hard limit, and the figure said; a failure to read
  // or raise it is said too and the site starts with what it has.
  try {
    const files = raiseOpenFilesLimit();
    log.info(
      Number.isFinite(files.soft)
        ? `open files: up to ${files.soft} (was ${files.before})`
        : "open files: no limit",
    );
    if (Number.isFinite(files.soft) && files.soft < 4096) {
      log.warn(
        `open files: the hard limit ${files.hard} allows about ${
          files.soft - 64
        } connections at once; raise it (ulimit -Hn, LimitNOFILE=) for a large audience`,
      );
    }
  } catch (e) {
    log.warn(
      `open files: cannot raise the limit (${(e as Error).message}); starting with it as is`,
    );
  }
  let up = false;
  keepRunningOnUncaught({
    log: (m) => log.error(m),
    started: () => up,
    fatal: (m) => {
      console.error(`smx site: ${m}`);
      Deno.exit(1);
    },
  });
  const { serveSite } = await import("./serve.ts");
  let site;
  try {
    site = await serveSite(config, { log: (m) => log.info(m), dev: f.dev });
  } catch (e) {
    console.error(`smx site: ${(e as Error).stack ?? (e as Error).message}`);
    Deno.exit(1);
  }
  up = true;
  // Tests and scripts wait for this line (tests/support/processes.ts).
  console.log(`smx site listening on ${site.url} for ${config.publicOrigin}`);
  const stop = async () => {
    log.info("shutting down");
    await site.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

/**
 * smx command line.
 *
 *   smx [start] [flags]   serve the UI and stream the engine (starts the demo engine if none)
 *   smx demo-engine       run the demo engine alone (flags: demo/README.md)
 *   smx engines           list the engines discovery finds
 *   smx pairing show|rotate  the LAN pairing QR and code of the running smx, or new ones
 *   smx site --config FILE   the public site behind single sign-on (site/README.md)
 *   smx verify [--seconds N] what to check first on a new machine (docs/windows.md)
 */
import { parseArgs } from "node:util";
import { createLogger, isLogLevel } from "./server/log.ts";
import { SMX_VERSION } from "./server/hello.ts";
import { keepRunningOnUncaught } from "./server/uncaught.ts";

const HELP = `smx ${SMX_VERSION}: a live render engine's picture and controls in the browser

usage: smx [start] [flags]     serve the UI at http://localhost:PORT and stream the engine
       smx demo-engine [...]   run the demo engine alone (see demo/README.md)
       smx engines             list the engines discovery finds
       smx pairing show        print the running smx's LAN pairing QR code and code
       smx pairing rotate      new QR code and code; every paired LAN device pairs again
       smx site --config FILE  the public site: the UI behind single sign-on, minting
                               viewer tokens (see smx site --help, site/README.md)
       smx verify [--seconds N]  system, GPU, Spout senders, NVENC, then an N s encode
                               test (default 10; see docs/windows.md)

flags (each also from an environment variable):
  --port N             HTTP port (SMX_PORT, default 7300; 0 = any free port)
  --bind ADDR          loopback listen address (SMX_BIND, default 127.0.0.1)
  --lan                also serve the LAN, on each LAN address of this machine, to devices
                       paired by QR code or code (SMX_LAN=1; scripts/run.sh passes it)
  --no-lan             loopback only, whatever SMX_LAN or --lan say
  --lan-address ADDR   serve only these LAN addresses (repeatable or comma-separated;
                       SMX_LAN_ADDRESS); implies --lan
  --engine URL         engine hub URL; wins over discovery (SMX_ENGINE)
  --engine-select SEL  pick among discovered engines by name, pid or URL (SMX_ENGINE_SELECT)
  --no-demo            do not start the demo engine when no engine is found (SMX_NO_DEMO=1)
  --encoders LIST      encoder preference, comma-separated (SMX_ENCODERS,
                       default h264_nvenc,libx264)
  --encode-budget MPX  encoded megapixels/s over all sessions (SMX_ENCODE_BUDGET,
                       default: measured at start-up); beyond it existing renditions serve
  --max-encoders N     concurrent encode sessions (SMX_MAX_ENCODERS, default 8)
  --max-connections N  clients served at once; more are told to retry later
                       (SMX_MAX_CONNECTIONS, default: the open-files limit - 128)
  --wan FILE           also publish to the WAN reach (LiveKit + Centrifugo) as configured in
                       FILE (SMX_WAN; see docs/wan.md); smx only dials out
  --no-adapt           never move a viewer to a smaller or slower rendition than it asked
                       for (SMX_ADAPT=off); its delay stays bounded by skipping frames
  --log-level L        debug | info | warn | error (SMX_LOG_LEVEL, default info)
  --dev                rebuild the UI when ui/ changes
  -h, --help           this text
  -V, --version        the version
`;

function fail(msg: string): never {
  console.error(`smx: ${msg}\n(run smx --help for usage)`);
  Deno.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "start";
  const rest = command === argv[0] ? argv.slice(1) : argv;
  if (command === "demo-engine") {
    const { runDemoEngineCli } = await import("./demo/main.ts");
    return await runDemoEngineCli(rest);
  }
  if (command === "site") {
    const { runSiteCli } = await import("./site/main.ts");
    return await runSiteCli(rest);
  }
  if (command === "verify") {
    const { verifyCli } = await import("./server/verify.ts");
    Deno.exit(await verifyCli(rest));
  }
  if (command === "pairing") {
    const { pairingCli } = await import("./server/lan/cli.ts");
    Deno.exit(await pairingCli(rest));
  }
  const env = (k: string) => Deno.env.get(k);
  let f;
  try {
    ({ values: f } = parseArgs({
      args: rest,
      options: {
        port: { type: "string", default: env("SMX_PORT") ?? "7300" },
        bind: { type: "string", default: env("SMX_BIND") ?? "127.0.0.1" },
        lan: { type: "boolean", default: env("SMX_LAN") === "1" },
        "no-lan": { type: "boolean", default: false },
        "lan-address": { type: "string", multiple: true },
        engine: { type: "string", default: env("SMX_ENGINE") },
        "engine-select": { type: "string", default: env("SMX_ENGINE_SELECT") },
        "no-demo": { type: "boolean", default: env("SMX_NO_DEMO") === "1" },
        encoders: { type: "string", default: env("SMX_ENCODERS") },
        "encode-budget": { type: "string", default: env("SMX_ENCODE_BUDGET") },
        "max-encoders": { type: "string", default: env("SMX_MAX_ENCODERS") },
        "max-connections": { type: "string", default: env("SMX_MAX_CONNECTIONS") },
        "log-level": { type: "string", default: env("SMX_LOG_LEVEL") ?? "info" },
        wan: { type: "string", default: env("SMX_WAN") },
        "no-adapt": { type: "boolean", default: env("SMX_ADAPT") === "off" },
        dev: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "V", default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (f.help) return console.log(HELP);
  if (f.version) return console.log(SMX_VERSION);
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${f.port}: 0..65535`);
  const level = f["log-level"]!;
  if (!isLogLevel(level)) fail(`--log-level ${level}: debug, info, warn or error`);
  if (f.bind !== "127.0.0.1" && f.bind !== "::1" && f.bind !== "localhost") {
    fail(`--bind ${f.bind}: loopback only; --lan serves the LAN, to paired devices`);
  }
  const { parseAddressList } = await import("./server/lan/addresses.ts");
  const lanAddressList = parseAddressList(
    f["lan-address"] ?? (env("SMX_LAN_ADDRESS") ? [env("SMX_LAN_ADDRESS")!] : []),
  );
  // --no-lan wins: scripts/run.sh passes --lan by default, and the user's "no" must hold.
  const lan = !f["no-lan"] && (f.lan || lanAddressList.length > 0);
  const budgetMpx = f["encode-budget"] === undefined ? undefined : Number(f["encode-budget"]);
  if (budgetMpx !== undefined && !(budgetMpx > 0)) {
    fail(`--encode-budget ${f["encode-budget"]}: a positive number of megapixels per second`);
  }
  const maxEncoders = f["max-encoders"] === undefined ? undefined : Number(f["max-encoders"]);
  if (maxEncoders !== undefined && !(Number.isInteger(maxEncoders) && maxEncoders >= 1)) {
    fail(`--max-encoders ${f["max-encoders"]}: a whole number from 1`);
  }
  const maxConnections = f["max-connections"] === undefined
    ? undefined
    : Number(f["max-connections"]);
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) {
    fail(`--max-connections ${f["max-connections"]}: a whole number from 1`);
  }
  const log = createLogger(level);

  if (command === "engines") {
    const { describeEngine, discoverEngines } = await import("./server/engine/discovery.ts");
    const { listSenders } = await import("./ffi/ring.ts");
    const { listSpoutSenders, SPOUT_AVAILABLE } = await import("./ffi/spout.ts");
    const r = await discoverEngines({
      explicit: f.engine,
      listSenders: () => listSenders(),
      ...(SPOUT_AVAILABLE ? { listSpoutSenders: () => listSpoutSenders() } : {}),
    });
    // name, pid, url, via, usable or why not: two engines of the same name differ somewhere.
    for (const e of r.engines) console.log(describeEngine(e));
    for (const p of r.problems) console.log(`# ${p}`);
    console.log(
      r.spout.ran
        ? `# spout: ${r.spout.senders.length} sender(s)${
          r.spout.senders.map((s) => `\n#   ${s.name} ${s.width}x${s.height}`).join("")
        }`
        : `# spout: ${r.spout.why}`,
    );
    if (!r.engines.length) console.log("no engine found");
    else if (!r.engines.some((e) => e.usable)) console.log("# no usable engine");
    return;
  }
  if (command !== "start") fail(`unknown command "${command}"`);
  if (f["engine-select"] && !f.engine) {
    // A selector naming several engines is the user's call to make, not smx's guess: say which.
    const { discoverEngines, EngineSelectError, selectEngine } = await import(
      "./server/engine/discovery.ts"
    );
    try {
      selectEngine((await discoverEngines()).engines, f["engine-select"]);
    } catch (e) {
      if (e instanceof EngineSelectError) fail(e.message);
      throw e;
    }
  }

  let up = false;
  keepRunningOnUncaught({
    log: (m) => log.error(m),
    started: () => up,
    fatal: (m) => {
      console.error(`smx: ${m}`);
      Deno.exit(1);
    },
  });
  let wan;
  if (f.wan) {
    const { loadWanConfig } = await import("./server/wan/config.ts");
    try {
      wan = await loadWanConfig(f.wan);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const { start } = await import("./server/start.ts");
  const options = {
    port,
    bind: f.bind!,
    engine: f.engine,
    engineSelect: f["engine-select"],
    demo: !f["no-demo"],
    encoders: f.encoders?.split(",").map((s) => s.trim()).filter(Boolean),
    encodeBudgetMpx: budgetMpx,
    maxEncoders,
    maxConnections,
    dev: f.dev!,
    adapt: !f["no-adapt"],
    log,
    lan: lan ? { addresses: lanAddressList } : undefined,
    wan,
  };
  let running;
  try {
    running = await start(options);
  } catch (e) {
    console.error(`smx: ${(e as Error).message}`);
    Deno.exit(1);
  }
  up = true;
  const shutdown = async () => {
    log.info("shutting down");
    await running.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
}

if (import.meta.main) await main(Deno.args);

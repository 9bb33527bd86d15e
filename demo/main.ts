/**
 * The demo engine: a stand-in for SpaceMusic's headless engine, run as its own process.
 *
 *   deno run -A demo/main.ts [--port N] [--host H] [--name S] [--spec file.csv]
 *        [--port-dir DIR] [--outputs default|none] [--no-port-file] [--debug] [--no-ambient]
 *        [--main WxH@FPS]
 *
 * Prints one JSON line `{"event":"ready",...}` on stdout once it serves; logs go to stderr.
 * See demo/README.md and docs/engine-protocol.md.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { basename } from "node:path";
import { enginePortRange } from "../protocol/engine_descriptor.ts";
import { parseSpecCsv, type SpecError } from "../protocol/spec_csv.ts";
import { engineDir, removePortFile, writePortFile } from "../server/engine/port_files.ts";
import { isSmxChannel } from "../server/engine/pairing_channels.ts";
import { ParamHub } from "./hub.ts";
import { engineHandler } from "./engine_http.ts";
import { DEFAULT_OUTPUTS, outputChannelMetas, type OutputSpec, senderInfos } from "./outputs.ts";
import { DemoRenderer } from "./renderer.ts";
import { startChurn } from "./churn.ts";

export const DEMO_VERSION = "0.1.0";
export const DEFAULT_SPEC = fileURLToPath(new URL("./spec/spacemusic-demo.csv", import.meta.url));

export interface DemoEngineOptions {
  /** 0 = any free port; absent = first free of 47800..47809, else any. */
  port?: number;
  /** Listen address, default 127.0.0.1 (loopback: Host header must then be a loopback name). */
  host?: string;
  name?: string;
  specPath?: string;
  /** Texture outputs; "none" runs a hub-only engine (no native shim needed). */
  outputs?: readonly OutputSpec[] | "none";
  /** Port-file folder (default: engineDir(), i.e. $SMX_ENGINE_DIR or the per-user folder). */
  portDir?: string;
  writePortFile?: boolean;
  /** Enables /debug/stats and /debug/churn (token still required). */
  debug?: boolean;
  /** Engine-side meters (level, frame count) updating a few times a second. Default true. */
  ambient?: boolean;
  batchMs?: number;
  log?: (line: string) => void;
}

export interface DemoEngine {
  port: number;
  token: string;
  name: string;
  pid: number;
  instanceId: string;
  url: string;
  portFile: string | null;
  hub: ParamHub;
  specErrors: SpecError[];
  /** Why the outputs are not rendering (native shim missing...), or null. */
  outputsError: string | null;
  stop(): Promise<void>;
}

function listen(host: string, port: number | undefined, handler: (r: Request) => Response) {
  const opts = (p: number) => ({ hostname: host, port: p, onListen: () => {} });
  if (port !== undefined) return Deno.serve(opts(port), handler);
  for (const p of enginePortRange()) {
    try {
      return Deno.serve(opts(p), handler);
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return Deno.serve(opts(0), handler);
}

export async function runDemoEngine(opts: DemoEngineOptions = {}): Promise<DemoEngine> {
  const log = opts.log ?? ((l: string) => console.error(`[demo-engine] ${l}`));
  const name = opts.name ?? "SpaceMusic Demo";
  const host = opts.host ?? "127.0.0.1";
  const specPath = opts.specPath ?? DEFAULT_SPEC;
  const outputs = opts.outputs === "none" ? [] : opts.outputs ?? DEFAULT_OUTPUTS;
  // Bytes, not text: invalid UTF-8 is then reported by line instead of loading as U+FFFD.
  const spec = parseSpecCsv(await Deno.readFile(specPath));
  for (const e of [...spec.errors, ...spec.warnings]) log(`${specPath}:${e.line}: ${e.message}`);

  const token = crypto.randomUUID();
  const instanceId = crypto.randomUUID();
  const startedUtc = new Date().toISOString();
  // Channels smx writes (Smx.*, docs/engine-protocol.md) are not user parameters: no UI rows.
  const channels = spec.channels.map((c) => isSmxChannel(c.path) ? { ...c, hidden: true } : c);
  const hub = new ParamHub([...channels, ...outputChannelMetas(outputs)], {
    instanceId,
    engine: name,
    batchMs: opts.batchMs,
  });

  let renderer: DemoRenderer | null = null;
  let outputsError: string | null = null;
  if (outputs.length > 0) {
    try {
      renderer = await DemoRenderer.start(hub, outputs, name);
    } catch (e) {
      outputsError = (e as Error).message;
      log(`outputs not rendering: ${outputsError}`);
    }
  }
  let stopChurn = () => {};
  const id = {
    name,
    version: DEMO_VERSION,
    instanceId,
    pid: Deno.pid,
    startedUtc,
    token,
    specName: basename(specPath),
  };
  const loopbackOnly = ["127.0.0.1", "localhost", "::1"].includes(host);
  const server = listen(
    host,
    opts.port,
    engineHandler({
      id,
      hub,
      senders: () => (renderer ? senderInfos(outputs, name, Deno.pid) : []),
      loopbackOnly,
      debug: opts.debug ?? false,
      churn: (rate) => {
        stopChurn();
        stopChurn = rate > 0 ? startChurn(hub, rate, (p) => p.startsWith("System.")) : () => {};
      },
    }),
  );
  const port = server.addr.port;

  const t0 = performance.now();
  const ambient = opts.ambient === false ? undefined : setInterval(() => {
    const t = (performance.now() - t0) / 1000;
    hub.set("Audio.Analysis.Level", Math.round(500 + 450 * Math.sin(t * 2.1)) / 1000);
    if (renderer) hub.set("System.Engine.FrameCount", renderer.framesSent());
  }, 250);

  const dir = opts.portDir ?? engineDir();
  let portFile: string | null = null;
  if (opts.writePortFile !== false) {
    portFile = writePortFile(dir, {
      port,
      pid: Deno.pid,
      startedUtc,
      name,
      token,
      host,
      instanceId,
    });
  }
  // Removes the port file however the process ends short of SIGKILL (discovery then sees a
  // dead pid and ignores the leftover file).
  const onUnload = () => portFile && removePortFile(portFile);
  globalThis.addEventListener("unload", onUnload);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      stopChurn();
      if (ambient !== undefined) clearInterval(ambient);
      if (portFile) removePortFile(portFile);
      globalThis.removeEventListener("unload", onUnload);
      renderer?.stop();
      hub.close();
      await server.shutdown();
    })();

  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log(`${name} on ${url} (pid ${Deno.pid}, ${hub.channels.length} channels)`);
  return {
    port,
    token,
    name,
    pid: Deno.pid,
    instanceId,
    url,
    portFile,
    hub,
    specErrors: spec.errors,
    outputsError,
    stop,
  };
}

/**
 * Command-line entry: parses flags, runs the engine, removes its port file on SIGINT/SIGTERM, and
 * prints the ready line. main.ts's `demo-engine` subcommand calls this too (a compiled smx has no
 * separate demo/main.ts to run).
 */
export async function runDemoEngineCli(args: string[]): Promise<void> {
  const { values: f } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      name: { type: "string" },
      spec: { type: "string" },
      "port-dir": { type: "string" },
      outputs: { type: "string", default: "default" },
      "no-port-file": { type: "boolean", default: false },
      "no-ambient": { type: "boolean", default: false },
      debug: { type: "boolean", default: false },
      "batch-ms": { type: "string" },
      main: { type: "string" },
    },
  });
  let outputs: readonly OutputSpec[] | "none" | undefined = f.outputs === "none"
    ? "none"
    : undefined;
  if (f.main !== undefined) {
    // --main WxH@FPS resizes the main output (benchmarks run it at 1920x1080@30).
    const m = /^(\d+)x(\d+)@(\d+)$/.exec(f.main);
    const [w, h, fps] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
    if (!m || w < 16 || h < 16 || w > 8192 || h > 8192 || fps < 1 || fps > 240) {
      console.error(`--main ${f.main}: expected WIDTHxHEIGHT@FPS, e.g. 1920x1080@30`);
      Deno.exit(2);
    }
    outputs = DEFAULT_OUTPUTS.map((o) => o.id === "main" ? { ...o, width: w, height: h, fps } : o);
  }
  const port = f.port !== undefined ? Number(f.port) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    console.error(`--port ${f.port}: expected 0..65535 (0 = any free port)`);
    Deno.exit(2);
  }
  const engine = await runDemoEngine({
    port,
    host: f.host,
    name: f.name,
    specPath: f.spec,
    portDir: f["port-dir"],
    outputs,
    writePortFile: !f["no-port-file"],
    ambient: !f["no-ambient"],
    debug: f.debug,
    batchMs: f["batch-ms"] !== undefined ? Number(f["batch-ms"]) : undefined,
  });
  const quit = async () => {
    await engine.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", quit);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", quit);
  console.log(JSON.stringify({
    event: "ready",
    port: engine.port,
    pid: engine.pid,
    name: engine.name,
    token: engine.token,
    instanceId: engine.instanceId,
    url: engine.url,
    portFile: engine.portFile,
    outputsError: engine.outputsError,
  }));
}

if (import.meta.main) await runDemoEngineCli(Deno.args);

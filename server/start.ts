/**
 * `smx start`: wires discovery, the parameter mirror, the video sources, encode sessions and the
 * HTTP server together, and starts the demo engine when no engine is found.
 */
import { EngineService } from "./engine/engine_service.ts";
import { serveParamClient } from "./params/serve_param_client.ts";
import { DemoSupervisor } from "../demo/supervisor.ts";
import { usableEngines } from "./engine/discovery.ts";
import { EncodeSessionManager } from "../encoder/manager.ts";
import {
  budgetFromCost,
  DEFAULT_MAX_SESSIONS,
  type EncodeBudget,
  encodingCores,
  measureEncodeCost,
} from "../encoder/budget.ts";
import { H264Encoder } from "../ffi/encoder.ts";
import { listSenders } from "../ffi/ring.ts";
import { listSpoutSenders, SPOUT_AVAILABLE } from "../ffi/spout.ts";
import { prepareEmbeddedShim } from "../ffi/lib.ts";
import { raiseOpenFilesLimit } from "../ffi/limits.ts";
import { defaultMaxConnections } from "./http/connection_limit.ts";
import { createApp } from "./app.ts";
import { denoUpgrade, listen, type Listening } from "./serve.ts";
import { UiAssets } from "./http/ui_assets.ts";
import { SourceCatalog } from "./sources.ts";
import { VideoClient } from "./video/client.ts";
import { SMX_VERSION, type SmxHello } from "./hello.ts";
import type { Logger } from "./log.ts";
import { LanReach } from "./lan/lan.ts";
import { PairingChannels } from "./engine/pairing_channels.ts";
import { checkAddresses, defaultRouteInterface, lanAddresses } from "./lan/addresses.ts";
import { lanUrlsText, pairingText } from "./lan/banner.ts";
import type { WanConfig } from "./wan/config.ts";
import type { WanReach } from "./wan/wan_reach.ts";

/** How long stop() waits for open connections to finish before it goes on without them. */
const SHUTDOWN_GRACE_MS = 2000;

export interface StartOptions {
  port: number;
  bind: string;
  engine?: string;
  engineSelect?: string;
  demo: boolean;
  encoders?: string[];
  /** Encoded megapixels per second over all sessions (default: measured at start-up). */
  encodeBudgetMpx?: number;
  /** Concurrent encode sessions (default 8). */
  maxEncoders?: number;
  /** Clients served at once: requests in flight + WebSockets (default: from the open-files limit). */
  maxConnections?: number;
  dev: boolean;
  /**
   * false: viewers are never moved to a smaller or slower rendition than they asked for (their
   * delay stays bounded by skipping to keyframes). For measuring a fixed rendition, and for tests
   * of sharing that must not depend on how loaded the machine is.
   */
  adapt?: boolean;
  log: Logger;
  /**
   * Serve the LAN too (--lan): on `addresses` (--lan-address) or, when none are given, on every
   * usable LAN address of this machine. Absent: loopback only.
   */
  lan?: { addresses?: string[] };
  /** Publish to the WAN reach (--wan): LiveKit for video, Centrifugo for parameters and demand. */
  wan?: WanConfig;
}

export interface Running {
  url: string;
  port: number;
  /** The LAN reach (pairing, devices, onLanClientsChange), when serving the LAN. */
  lan?: LanReach;
  stop(): Promise<void>;
}

/** The Linux route table, to put the default route's address first in the QR; else nothing. */
function readDefaultInterface(): string | undefined {
  try {
    return defaultRouteInterface(Deno.readTextFileSync("/proc/net/route"));
  } catch {
    return undefined; // not Linux: interface order decides
  }
}

/** The LAN reach for --lan, its addresses checked before anything starts. */
function lanReach(o: StartOptions, log: Logger): LanReach | undefined {
  if (!o.lan) return undefined;
  const ifaces = Deno.networkInterfaces();
  let addresses = o.lan.addresses ?? [];
  if (addresses.length) {
    const problems = checkAddresses(addresses, ifaces);
    if (problems.length) throw new Error(`--lan-address ${problems.join("; ")}`);
  } else {
    addresses = lanAddresses(ifaces, { defaultInterface: readDefaultInterface() });
  }
  return new LanReach({ addresses, log: (m) => log.info(m) });
}

/** Which encoder a session will get, and why others were skipped (for the start-up report). */
async function probeEncoder(preference?: string[]): Promise<{ name: string; skipped: string }> {
  const enc = await H264Encoder.open({ width: 64, height: 64, fps: 30, preference });
  try {
    return { name: enc.name, skipped: enc.skipped };
  } finally {
    enc.close();
  }
}

/** The encode budget: configured, or measured on this machine's encoder now. */
async function encodeBudget(o: StartOptions, log: Logger): Promise<EncodeBudget> {
  const maxSessions = o.maxEncoders ?? DEFAULT_MAX_SESSIONS;
  if (o.encodeBudgetMpx) return { maxSessions, pixelsPerSecond: o.encodeBudgetMpx * 1e6 };
  try {
    const msPerMpx = await measureEncodeCost(o.encoders);
    const b = budgetFromCost(msPerMpx, encodingCores(), maxSessions);
    log.info(
      `encode budget: ${Math.round(b.pixelsPerSecond / 1e6)} Mpx/s (${
        msPerMpx.toFixed(1)
      } ms per Mpx on ${encodingCores()} core(s)), ${maxSessions} sessions`,
    );
    return b;
  } catch (e) {
    log.warn(`encode budget not measured (${(e as Error).message}): sessions only`);
    return { maxSessions, pixelsPerSecond: Infinity };
  }
}

export async function start(o: StartOptions): Promise<Running> {
  const log = o.log;
  const lan = lanReach(o, log);
  const shim = await prepareEmbeddedShim();
  if (shim) {
    log.info(
      `native shim: ${shim.path} (${shim.action}${
        shim.why ? `: the old copy had ${shim.why}` : ""
      })`,
    );
  }
  // Before anything starts (the demo engine): a compiled binary whose embedded UI is incomplete
  // stops here, naming what is missing.
  const assets = await UiAssets.load({ watch: o.dev, log: (m) => log.info(m) });
  // Before the demo engine starts, so that it inherits the raised limit too.
  const files = raiseOpenFilesLimit();
  const maxConnections = o.maxConnections ?? defaultMaxConnections(files.soft);
  log.info(
    Number.isFinite(files.soft)
      ? `open files: up to ${files.soft} (was ${files.before}); ${maxConnections} clients at once`
      : `open files: no limit; ${maxConnections} clients at once`,
  );
  if (Number.isFinite(files.soft) && files.soft < 4096) {
    // Seed 002 fell over at ~900 viewers on a 1,024 limit (issue 11): say it before it bites.
    log.warn(
      `open files: the hard limit ${files.hard} caps smx at about ${maxConnections} clients; ` +
        "raise it (ulimit -Hn, systemd LimitNOFILE=) for a large audience",
    );
  }
  const engines = new EngineService({
    explicit: o.engine,
    select: o.engineSelect,
    listSenders: () => listSenders(),
    ...(SPOUT_AVAILABLE ? { listSpoutSenders: () => listSpoutSenders() } : {}),
    log: (level, msg) => log[level](msg),
  });

  let demo: DemoSupervisor | undefined;
  // Only engines smx can link count: another user's engine on the probe range (no token) does not.
  const found = usableEngines(await engines.refresh());
  // The demo engine draws into the Linux frame ring, which smx.dll does not have: on Windows smx
  // waits for the real engine (and shows its Spout senders meanwhile).
  const demoHere = Deno.build.os !== "windows";
  if (found.length === 0 && !o.engine && o.demo && !demoHere) {
    log.info("no usable engine found; the demo engine is Linux only: waiting for an engine");
  }
  if (found.length === 0 && !o.engine && o.demo && demoHere) {
    log.info("no usable engine found: starting the demo engine");
    // deno-lint-ignore no-explicit-any
    const compiled = (Deno.build as any).standalone === true;
    demo = await DemoSupervisor.start({
      ...(compiled ? { command: [Deno.execPath(), "demo-engine"] } : {}),
      log: (level, msg) => log[level](msg),
    });
    const d = demo.demo!;
    log.info(`demo engine "${d.name}" (pid ${d.pid}) on ${d.url}`);
  }
  engines.start();

  const catalog = new SourceCatalog();
  const mirror = engines.mirror;
  // While the link is down the last engine's senders stay listed: tiles keep their sources and
  // show "waiting for video" instead of being replaced by whatever rings happen to be around.
  let wakeSessions = () => {};
  const syncSenders = () => {
    if (mirror.descriptor) catalog.setEngineSenders(mirror.descriptor.senders);
    wakeSessions(); // an engine that came back: its sessions reopen now, not after backoff
  };
  mirror.subscribe((e) => {
    if (e.type !== "delta") syncSenders();
  });
  syncSenders();

  let encoder = { name: "", skipped: "" };
  try {
    encoder = await probeEncoder(o.encoders);
  } catch (e) {
    log.error(`no H.264 encoder can be opened: ${(e as Error).message}`);
  }

  const budget = await encodeBudget(o, log);
  const sessions = new EncodeSessionManager({
    resolveSource: (id) => catalog.resolve(id),
    encoderPreference: o.encoders,
    budget,
    log: (m) => log.debug(m),
  });
  wakeSessions = () => sessions.wakeAll();
  const videoClients = new Set<VideoClient>();

  const hello = (): SmxHello => {
    const link = mirror.link;
    return {
      name: "smx",
      version: SMX_VERSION,
      engine: {
        state: link.state,
        name: link.engine?.name ?? null,
        url: link.engine?.url ?? null,
        ...(link.message ? { message: link.message } : {}),
        candidates: engines.candidates(),
      },
      sources: catalog.list(),
      transports: ["ws"],
      encoder: {
        preference: o.encoders ?? ["h264_nvenc", "libx264"],
        lastUsed: encoder.name || null,
      },
    };
  };

  let wan: WanReach | undefined; // set once listening (stats may be asked before)
  const app = createApp({
    assets,
    hello,
    stats: () => ({
      budget: { ...budget, pixelsInUse: sessions.pixelRate },
      sessions: sessions.stats(),
      videoClients: [...videoClients].map((c) => c.stats()),
      connections: server?.connections(), // undefined until listen() has returned
      ...(lan ? { lanClients: lan.lanClients() } : {}),
      ...(wan ? { wan: wan.stats() } : {}),
    }),
    upgrade: denoUpgrade,
    lan,
    venues: () => wan?.venues,
    onVideoSocket: (socket) => {
      const client = new VideoClient(socket, sessions, (m) => log.debug(m), {
        adapt: o.adapt !== false,
      });
      videoClients.add(client);
      socket.addEventListener("close", () => videoClients.delete(client));
    },
    onParamSocket: (socket) => {
      serveParamClient(socket, mirror, { log: (m: string) => log.debug(m) });
    },
  });

  let server: Listening;
  try {
    server = await listen(app, {
      hostname: o.bind,
      port: o.port,
      maxConnections,
      log: (m) => log.warn(m),
      lan,
    });
  } catch (e) {
    await engines.stop();
    await demo?.stop();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(`port ${o.port} on ${o.bind} is in use: pass --port 0 or another port`);
    }
    throw e;
  }

  // The engine draws the pairing QR in its own window while no LAN device is connected.
  const pairingChannels = new PairingChannels(mirror, { log: (level, m) => log[level](m) });
  const publishPairing = () => {
    const url = lan?.pairingUrl() ?? null;
    const qr = lan?.qrMatrix() ?? null;
    pairingChannels.publish(
      lan && url && qr
        ? { url, qr, code: lan.pairing.state.code, show: lan.lanClients() === 0 }
        : null,
    );
  };
  const offLanClients = lan?.onLanClientsChange(publishPairing) ?? (() => {});
  const offRotate = lan?.onRotate(publishPairing) ?? (() => {});
  publishPairing();

  // The WAN reach dials out once the rest is up; its module (werift, livekit-server-sdk,
  // centrifuge) loads only when it is configured.
  if (o.wan) {
    const { WanReach } = await import("./wan/wan_reach.ts");
    wan = new WanReach({
      config: o.wan,
      sessions,
      mirror,
      catalog,
      log: (level, m) => log[level](m),
    }).start();
  }

  const host = o.bind === "0.0.0.0" || o.bind === "127.0.0.1" ? "localhost" : o.bind;
  const url = `http://${host}:${server.port}/`;
  await mirror.whenConnected(3000).catch(() => {});
  syncSenders();
  const h = hello();
  console.log(
    `engine: ${h.engine.state}${h.engine.name ? ` — ${h.engine.name} (${h.engine.url})` : ""}`,
  );
  for (const c of h.engine.candidates) {
    console.log(
      `  found ${c.name} via ${c.via}: ${c.url}${c.usable ? "" : ` (unusable: ${c.why})`}`,
    );
  }
  console.log(
    `senders: ${h.sources.map((s) => `${s.id} ${s.width}x${s.height}`).join(", ") || "none"}`,
  );
  console.log(
    `encoder: ${encoder.name || "none"}${encoder.skipped ? ` (skipped: ${encoder.skipped})` : ""}`,
  );
  console.log(`smx listening on http://${o.bind}:${server.port}/ — open ${url}`);
  if (wan) {
    console.log(
      `WAN: publishing as engine "${o.wan!.engine}" to ${o.wan!.livekit.url}, ` +
        `parameters through ${o.wan!.centrifugo.url}`,
    );
  }
  if (lan) {
    const s = lan.status();
    console.log(
      (lanUrlsText(s) + pairingText(s, { terminal: Deno.stdout.isTerminal(), port: server.port }))
        .trimEnd(),
    );
  }

  let stopped = false;
  return {
    url,
    port: server.port,
    lan,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of videoClients) c.close();
      await wan?.stop(); // before the sessions: its DELETEs end the remote viewers' tracks
      // Graceful, but bounded: a connection whose peer vanished mid-request (seen with a LAN
      // page's socket through the front) must not keep a stopping smx alive.
      const graceful = server.shutdown().catch(() => {});
      const bounded = await Promise.race([
        graceful.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), SHUTDOWN_GRACE_MS)),
      ]);
      if (!bounded) {
        console.error(`smx: connections still open after ${SHUTDOWN_GRACE_MS} ms; stopping anyway`);
      }
      await sessions.close();
      offLanClients();
      offRotate();
      await pairingChannels.close(); // Show = false: a stopped smx's QR is dead
      await engines.stop();
      assets.close();
      await demo?.stop();
    },
  };
}

/**
 * A real livekit-server for tests: the pinned binary that scripts/wan_servers.sh builds into its
 * cache, started with a test config in a temp dir, on loopback only.
 *
 * Loopback only, read from livekit-server v1.13.5's sources:
 * - HTTP/WebSocket (`port`) listens on `bind_addresses`: 127.0.0.1;
 * - WebRTC UDP goes through one UDP mux port (`rtc.udp_port`), which binds one socket per local
 *   address that passes the interface/IP filters: `ips.includes: 127.0.0.1/32` with
 *   `enable_loopback_candidate` leaves only 127.0.0.1 (mediatransportutil transport/ip.go);
 * - ICE over TCP is off (`rtc.tcp_port: 0`): its listener is `net.ListenTCP(":port")`, every
 *   address, with no setting to narrow it (rtcconfig/webrtc_config.go), so it cannot be used here;
 * - `node_ip: 127.0.0.1` and `use_external_ip: false`: the candidates say 127.0.0.1 and the server
 *   asks no STUN server for its own address; no Redis, no TURN, no Prometheus port.
 * `stun_servers` is what LiveKit names in its answers' `Link: rel="ice-server"` headers (it would
 * name Google's otherwise); it points at a small STUN responder on loopback (started here), so
 * clients that honour Link stay on loopback and a test can see that they did.
 *
 * `restart()` stops the process and starts it again on the same ports (rooms are gone: no Redis),
 * which is what a LiveKit restart looks like to smx.
 */
import { join } from "node:path";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { ROOT } from "./processes.ts";

export interface LiveKitServer {
  /** ws://127.0.0.1:PORT, as LiveKit's clients are configured. */
  url: string;
  /** http://127.0.0.1:PORT (WHIP, the server API). */
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  port: number;
  udpPort: number;
  /** The loopback STUN server named in Link headers. */
  stun: StunResponder;
  pid(): number;
  output(): string;
  stop(signal?: Deno.Signal): Promise<void>;
  /** Stops (SIGTERM) and starts again with the same config and ports; waits until ready. */
  restart(): Promise<void>;
}

export interface LiveKitOptions {
  /** Extra YAML appended to the config (e.g. room settings). */
  extraYaml?: string;
  logLevel?: "debug" | "info" | "warn";
  readyTimeoutMs?: number;
}

/** Path of the pinned livekit-server binary; throws with the fix when it is not built. */
export function livekitBinary(): string {
  const out = new Deno.Command("bash", {
    args: [join(ROOT, "scripts", "wan_servers.sh"), "--print"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) =>
    l.startsWith("LIVEKIT_SERVER=")
  );
  const path = line?.slice("LIVEKIT_SERVER=".length);
  if (!path) throw new Error("scripts/wan_servers.sh --print named no LIVEKIT_SERVER");
  try {
    if (Deno.statSync(path).isFile) return path;
  } catch { /* reported below */ }
  throw new Error(
    `livekit-server is not built (${path} is missing): run \`bash scripts/wan_servers.sh\` ` +
      "(go install of the pinned version, a few minutes on 2 cores)",
  );
}

function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A minimal STUN server on loopback (RFC 5389 Binding → XOR-MAPPED-ADDRESS): the one LiveKit's
 * test config names in its Link headers. It counts requests, so a test can see that a client
 * used the ICE servers it was given.
 */
export interface StunResponder {
  address: string;
  requests(): number;
  close(): Promise<void>;
}

export async function startStunResponder(): Promise<StunResponder> {
  const s = dgram.createSocket("udp4");
  let requests = 0;
  s.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
    const m = Buffer.from(msg);
    if (m.length < 20 || m.readUInt16BE(0) !== 0x0001 || m.readUInt32BE(4) !== 0x2112a442) return;
    requests++;
    const res = Buffer.alloc(32);
    res.writeUInt16BE(0x0101, 0); // Binding success response
    res.writeUInt16BE(12, 2);
    m.copy(res, 4, 4, 20); // magic cookie + transaction id
    res.writeUInt16BE(0x0020, 20); // XOR-MAPPED-ADDRESS
    res.writeUInt16BE(8, 22);
    res.writeUInt16BE(0x0001, 24); // IPv4
    res.writeUInt16BE(rinfo.port ^ 0x2112, 26);
    const ip = rinfo.address.split(".").reduce((a, b) => (a << 8) + Number(b), 0) >>> 0;
    res.writeUInt32BE((ip ^ 0x2112a442) >>> 0, 28);
    s.send(res, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${s.address().port}`,
    requests: () => requests,
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
}

function configYaml(o: {
  port: number;
  udpPort: number;
  stunPort: number;
  apiKey: string;
  apiSecret: string;
  logLevel: string;
  extra: string;
}): string {
  return `# smx test config (tests/support/livekit.ts): loopback only
port: ${o.port}
bind_addresses:
  - 127.0.0.1
rtc:
  udp_port: ${o.udpPort}
  tcp_port: 0
  port_range_start: 0
  port_range_end: 0
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  ips:
    includes:
      - 127.0.0.1/32
  stun_servers:
    - 127.0.0.1:${o.stunPort}
keys:
  ${o.apiKey}: ${o.apiSecret}
logging:
  level: ${o.logLevel}
${o.extra}
`;
}

async function waitReady(
  httpUrl: string,
  child: Deno.ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (exited) {
      throw new Error(`livekit-server exited (${exited.code}) before ready:\n${output()}`);
    }
    try {
      const res = await fetch(`${httpUrl}/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`livekit-server not ready in ${timeoutMs} ms:\n${output()}`);
}

export async function startLiveKit(o: LiveKitOptions = {}): Promise<LiveKitServer> {
  const binary = livekitBinary();
  const dir = Deno.makeTempDirSync({ prefix: "smx-livekit-" });
  const port = freeTcpPort();
  const udpPort = await freeUdpPort();
  const stun = await startStunResponder();
  const stunPort = Number(stun.address.split(":")[1]);
  let stunOpen = true;
  const apiKey = "smxtestkey";
  const apiSecret = crypto.randomUUID() + crypto.randomUUID(); // ≥ 32 chars, as LiveKit wants
  const configPath = join(dir, "livekit.yaml");
  Deno.writeTextFileSync(
    configPath,
    configYaml({
      port,
      udpPort,
      stunPort,
      apiKey,
      apiSecret,
      logLevel: o.logLevel ?? "info",
      extra: o.extraYaml ?? "",
    }),
  );
  const httpUrl = `http://127.0.0.1:${port}`;
  let out = "";
  let child: Deno.ChildProcess | undefined;

  const spawn = async () => {
    out = "";
    const c = new Deno.Command(binary, {
      args: ["--config", configPath],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    child = c;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        out += dec.decode(chunk, { stream: true });
        if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      }
    };
    pump(c.stdout).catch(() => {});
    pump(c.stderr).catch(() => {});
    try {
      await waitReady(httpUrl, c, () => out, o.readyTimeoutMs ?? 30_000);
    } catch (e) {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
      await c.status;
      throw e;
    }
  };

  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    const c = child;
    if (!c) return;
    child = undefined;
    try {
      c.kill(signal);
    } catch { /* already gone */ }
    // A first SIGTERM drains: LiveKit waits for every participant to leave (cmd/server/main.go,
    // Server.Stop), which smx's publishers never do by themselves. A second one forces the stop,
    // as an operator's second Ctrl-C or an orchestrator's grace period would; SIGKILL if stuck.
    const kill = (sig: Deno.Signal) => {
      try {
        c.kill(sig);
      } catch { /* gone */ }
    };
    const force = setTimeout(() => kill("SIGTERM"), 300);
    const t = setTimeout(() => kill("SIGKILL"), 5000);
    await c.status;
    clearTimeout(force);
    clearTimeout(t);
  };

  try {
    await spawn();
  } catch (e) {
    await stun.close();
    throw e;
  }
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    apiKey,
    apiSecret,
    port,
    udpPort,
    stun,
    pid: () => child?.pid ?? 0,
    output: () => out,
    async stop(signal?: Deno.Signal) {
      await stop(signal);
      if (stunOpen) {
        stunOpen = false;
        await stun.close().catch(() => {});
      }
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* removed already */ }
    },
    async restart() {
      await stop();
      await spawn();
    },
  };
}

/**
 * Sockets a process listens on (TCP in LISTEN, every bound UDP socket) as "tcp 127.0.0.1:7880",
 * "udp6 [::]:5000"…, read from /proc: for the loopback-only check. Linux only.
 */
export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const out: string[] = [];
  const hex4 = (h: string) =>
    [3, 2, 1, 0].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16)).join(".");
  for (
    const [file, listenOnly] of [["tcp", true], ["udp", false], ["tcp6", true], [
      "udp6",
      false,
    ]] as const
  ) {
    let text = "";
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/net/${file}`);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      if (listenOnly && f[3] !== "0A") continue; // TCP_LISTEN
      const [addr, port] = f[1].split(":");
      const host = addr.length === 8
        ? hex4(addr)
        : addr === "00000000000000000000000001000000"
        ? "[::1]"
        : /^0+$/.test(addr)
        ? "[::]"
        : `[${addr}]`;
      out.push(`${file} ${host}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

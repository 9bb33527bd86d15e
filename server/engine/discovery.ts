/**
 * Finding engines, in priority order:
 *   1. an explicit `--engine URL` (token as `?token=`; without one, a port file for the same port
 *      supplies it);
 *   2. port files `engine.<pid>.port` in the per-user folder (dead pids and files whose /hello
 *      does not answer as that engine are skipped; dead pids' files are deleted);
 *   3. a loopback probe of the documented port range 47800..47809 (finds engines without a port
 *      file, e.g. another user's; they need a token given by URL before smx can connect);
 *   4. a frame-sender listing: senders no engine claims still give video (no parameters).
 * Several engines → all are returned; `selectEngine` picks by name, pid, instance id or URL.
 */
import {
  type EngineDescriptor,
  type EngineHelloPublic,
  enginePortRange,
  isEngineHello,
} from "../../protocol/engine_descriptor.ts";
import { engineDir, pidAlive, readPortFiles, removePortFile } from "./port_files.ts";

export type DiscoveryVia = "flag" | "port-file" | "probe" | "frame-ring";

export interface DiscoveredEngine {
  name: string;
  /** HTTP base URL, e.g. http://127.0.0.1:47800 ("" for a frame sender without a hub). */
  url: string;
  via: DiscoveryVia;
  pid?: number;
  instanceId?: string;
  startedUtc?: string;
  /** Known token (from the URL or the port file); absent → smx cannot open the hub. */
  token?: string;
  /** /hello answered (always true for frame-ring entries, which have no hub). */
  reachable: boolean;
  hello?: EngineHelloPublic | EngineDescriptor;
  /** Frame-sender names this entry stands for (frame-ring entries). */
  senders?: string[];
  problem?: string;
}

export interface SenderListing {
  name: string;
  width: number;
  height: number;
}

export interface DiscoveryOptions {
  /** `--engine`: http(s)://host:port[/...][?token=…], ws(s)://…/ws/hub?token=…, or host:port. */
  explicit?: string;
  portDir?: string;
  /** Loopback ports to probe; false disables the probe. Default 47800..47809. */
  probePorts?: number[] | false;
  /** Per-request timeout for /hello, ms. Default 600. */
  timeoutMs?: number;
  /** Frame-sender listing (smx passes ffi/ring.ts listSenders); absent skips step 4. */
  listSenders?: () => SenderListing[];
  /** Delete port files whose pid is dead. Default true. */
  removeStale?: boolean;
}

export interface DiscoveryResult {
  engines: DiscoveredEngine[];
  /** Human-readable notes: stale files removed, unreadable files, unanswered engines. */
  problems: string[];
}

/** Splits an engine URL into its HTTP base and token. */
export function parseEngineUrl(input: string): { url: string; token?: string } {
  const withScheme = /^[a-z]+:\/\//i.test(input) ? input : `http://${input}`;
  const u = new URL(withScheme);
  const scheme = u.protocol === "wss:" || u.protocol === "https:" ? "https:" : "http:";
  const token = u.searchParams.get("token") ?? undefined;
  return { url: `${scheme}//${u.host}`, ...(token ? { token } : {}) };
}

/** GET /hello with a timeout; null when nothing (or not an engine) answers. */
export async function fetchHello(
  url: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<EngineHelloPublic | EngineDescriptor | null> {
  try {
    const res = await fetch(`${url}/hello`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return null;
    }
    const body = await res.json();
    return isEngineHello(body) ? body : null;
  } catch {
    return null;
  }
}

function fromHello(
  h: EngineHelloPublic,
  base: Partial<DiscoveredEngine> & { url: string; via: DiscoveryVia },
): DiscoveredEngine {
  return {
    name: h.name,
    pid: h.pid,
    instanceId: h.instanceId,
    startedUtc: h.startedUtc,
    reachable: true,
    hello: h,
    ...base,
  };
}

async function fromPortFiles(o: DiscoveryOptions, timeoutMs: number, problems: string[]) {
  const { files, problems: bad } = await readPortFiles(o.portDir ?? engineDir());
  problems.push(...bad);
  const found = await Promise.all(files.map(async ({ path, info }) => {
    if (!pidAlive(info.pid)) {
      if (o.removeStale !== false) removePortFile(path);
      problems.push(
        `${path}: pid ${info.pid} is not running (stale file${
          o.removeStale !== false ? ", removed" : ""
        })`,
      );
      return null;
    }
    const host = !info.host || info.host === "0.0.0.0" || info.host === "::"
      ? "127.0.0.1"
      : info.host;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${info.port}`;
    const h = await fetchHello(url, info.token, timeoutMs);
    // A live pid whose port answers as a different engine: the pid was reused or the port taken.
    if (!h || h.pid !== info.pid || (info.instanceId && h.instanceId !== info.instanceId)) {
      problems.push(`${path}: ${url}/hello did not answer as engine pid ${info.pid}`);
      return null;
    }
    return fromHello(h, { url, via: "port-file", token: info.token });
  }));
  // Newest first: the engine started last is the likeliest one the user means.
  return found.filter((e): e is DiscoveredEngine => e !== null)
    .sort((a, b) => (b.startedUtc ?? "").localeCompare(a.startedUtc ?? ""));
}

async function fromProbe(ports: number[], timeoutMs: number) {
  const found = await Promise.all(ports.map(async (port) => {
    const url = `http://127.0.0.1:${port}`;
    const h = await fetchHello(url, undefined, timeoutMs);
    return h ? fromHello(h, { url, via: "probe" }) : null;
  }));
  return found.filter((e): e is DiscoveredEngine => e !== null);
}

const sameEngine = (a: DiscoveredEngine, b: DiscoveredEngine) =>
  (a.instanceId !== undefined && a.instanceId === b.instanceId) ||
  (a.url !== "" && a.url === b.url);

export async function discoverEngines(o: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const timeoutMs = o.timeoutMs ?? 600;
  const problems: string[] = [];
  const probePorts = o.probePorts === false ? [] : o.probePorts ?? enginePortRange();
  const [explicit, files, probed] = await Promise.all([
    o.explicit ? fromExplicit(o.explicit, o, timeoutMs) : Promise.resolve(null),
    fromPortFiles(o, timeoutMs, problems),
    fromProbe(probePorts, timeoutMs),
  ]);
  const engines: DiscoveredEngine[] = [];
  for (const e of [...(explicit ? [explicit] : []), ...files, ...probed]) {
    const dup = engines.find((x) => sameEngine(x, e));
    if (dup) dup.token ??= e.token; // keep the higher-priority entry, learn its token
    else engines.push(e);
  }
  if (explicit && explicit.token === undefined) {
    explicit.token = files.find((f) => sameEngine(f, explicit))?.token;
  }
  if (o.listSenders) {
    const claimed = new Set<string>();
    for (const e of engines) {
      for (const s of (e.hello as EngineDescriptor | undefined)?.senders ?? []) claimed.add(s.name);
    }
    let senders: SenderListing[] = [];
    try {
      senders = o.listSenders();
    } catch (e) {
      problems.push(`frame-sender listing failed: ${(e as Error).message}`);
    }
    for (const s of senders) {
      if (claimed.has(s.name)) continue;
      engines.push({
        name: s.name,
        url: "",
        via: "frame-ring",
        reachable: true,
        senders: [s.name],
      });
    }
  }
  return { engines, problems };
}

async function fromExplicit(input: string, o: DiscoveryOptions, timeoutMs: number) {
  let parsed: { url: string; token?: string };
  try {
    parsed = parseEngineUrl(input);
  } catch {
    return {
      name: input,
      url: "",
      via: "flag" as const,
      reachable: false,
      problem: `--engine ${JSON.stringify(input)} is not a URL`,
    };
  }
  let token = parsed.token;
  if (!token) {
    // Same machine: the port file of the engine on that port knows the token.
    const { files } = await readPortFiles(o.portDir ?? engineDir());
    const port = Number(new URL(parsed.url).port);
    token = files.find((f) => f.info.port === port)?.info.token;
  }
  const h = await fetchHello(parsed.url, token, timeoutMs);
  if (!h) {
    return {
      name: parsed.url,
      url: parsed.url,
      via: "flag" as const,
      token,
      reachable: false,
      problem: `${parsed.url}/hello did not answer`,
    };
  }
  return fromHello(h, { url: parsed.url, via: "flag", ...(token ? { token } : {}) });
}

/**
 * Chooses the engine to link: an explicit one always wins; else the first whose name, pid,
 * instance id or URL equals `selector`; else the first reachable engine with a token.
 */
export function selectEngine(
  engines: DiscoveredEngine[],
  selector?: string,
): DiscoveredEngine | undefined {
  const flag = engines.find((e) => e.via === "flag");
  if (flag) return flag;
  const hubs = engines.filter((e) => e.url !== "");
  if (selector) {
    return hubs.find((e) =>
      e.name === selector || String(e.pid) === selector || e.instanceId === selector ||
      e.url === selector
    );
  }
  return hubs.find((e) => e.reachable && e.token) ?? hubs.find((e) => e.reachable);
}

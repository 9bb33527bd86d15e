/**
 * Finding engines, in priority order:
 *   1. an explicit `--engine URL` (token as `?token=`; without one, a port file for the same port
 *      supplies it);
 *   2. port files `engine.<pid>.port` in the per-user folder (dead pids and files whose /hello
 *      does not answer as that engine are skipped; dead pids' files are deleted);
 *   3. a loopback probe of the documented port range 47800..47809 (finds engines without a port
 *      file, e.g. another user's; they need a token given by URL before smx can connect);
 *   4. a frame-sender listing: senders no engine claims still give video (no parameters);
 *   5. the Spout probe (Windows; the seeds' third probe, "Spout SenderNames enumeration"): Spout
 *      senders no engine claims, likewise video only. Elsewhere it reports "not Windows".
 * Several engines → all are returned; `selectEngine` picks by name, pid, instance id or URL.
 *
 * Each entry says whether smx can link it (`usable`) and, when not, why: an engine found only by
 * the probe answers /hello but needs a token smx does not have (another user's engine), a frame
 * sender has no hub, an explicit URL may not answer. Unusable engines are listed — the user sees
 * them and why — but never chosen by default, so one of them cannot stop smx from starting the
 * demo engine or from linking a usable engine.
 */
import {
  type EngineDescriptor,
  type EngineHelloPublic,
  enginePortRange,
  isEngineHello,
} from "../../protocol/engine_descriptor.ts";
import { engineDir, pidAlive, readPortFiles, removePortFile } from "./port_files.ts";

export type DiscoveryVia = "flag" | "port-file" | "probe" | "frame-ring" | "spout";

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
  /** smx can link its hub: /hello answered and the token is known (or none is needed). */
  usable: boolean;
  /** Why it is not usable (absent when usable). */
  why?: string;
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
  /** Spout sender listing (smx passes ffi/spout.ts listSpoutSenders on Windows); absent skips
   * step 5, which then reports why in `spout`. */
  listSpoutSenders?: () => SenderListing[];
  /** Delete port files whose pid is dead. Default true. */
  removeStale?: boolean;
}

export interface DiscoveryResult {
  engines: DiscoveredEngine[];
  /** Human-readable notes: stale files removed, unreadable files, unanswered engines. */
  problems: string[];
  /** The Spout probe: the senders it listed, or why it did not run ("not Windows"). */
  spout: SpoutProbeResult;
}

export interface SpoutProbeResult {
  ran: boolean;
  /** Every sender listed, claimed by an engine or not. */
  senders: SenderListing[];
  /** Why it did not run. */
  why?: string;
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
    usable: false, // decided once tokens from every source are known (markUsable)
    ...base,
  };
}

/** Sets `usable` and `why` from what discovery learned about the entry. */
function markUsable(e: DiscoveredEngine): void {
  let why: string | undefined;
  if (e.url === "") {
    why = `video only: a ${e.via === "spout" ? "Spout" : "frame"} sender without a parameter hub`;
  } else if (!e.reachable) why = e.problem ?? `${e.url}/hello did not answer`;
  else if (!e.token && e.hello?.authRequired !== false) {
    why = "needs a token: no port file of this user names it (another user's engine?); " +
      `pass --engine "${e.url}/?token=…" to use it`;
  }
  e.usable = why === undefined;
  if (why === undefined) delete e.why;
  else e.why = why;
}

/** The engines smx could link (start-up launches the demo engine when there is none). */
export function usableEngines(engines: DiscoveredEngine[]): DiscoveredEngine[] {
  return engines.filter((e) => e.usable);
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
        usable: false,
      });
    }
  }
  const spout = spoutProbe(o, engines, problems);
  for (const e of engines) markUsable(e);
  return { engines, problems, spout };
}

/** Step 5: Spout senders that no engine claims (by its senders or its transports.spout). */
function spoutProbe(
  o: DiscoveryOptions,
  engines: DiscoveredEngine[],
  problems: string[],
): SpoutProbeResult {
  if (!o.listSpoutSenders) {
    return {
      ran: false,
      senders: [],
      why: Deno.build.os === "windows" ? "not asked" : "not Windows: Spout is Windows only",
    };
  }
  let senders: SenderListing[] = [];
  try {
    senders = o.listSpoutSenders();
  } catch (e) {
    problems.push(`Spout sender listing failed: ${(e as Error).message}`);
    return { ran: false, senders: [], why: (e as Error).message };
  }
  const claimed = new Set<string>();
  for (const e of engines) {
    const d = e.hello as EngineDescriptor | undefined;
    for (const s of d?.senders ?? []) if (s.transport === "spout") claimed.add(s.name);
    for (const name of d?.transports?.spout ?? []) claimed.add(name);
  }
  for (const s of senders) {
    if (claimed.has(s.name)) continue;
    engines.push({
      name: s.name,
      url: "",
      via: "spout",
      reachable: true,
      senders: [s.name],
      usable: false,
    });
  }
  return { ran: true, senders };
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
      usable: false,
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
      usable: false,
      problem: `${parsed.url}/hello did not answer`,
    };
  }
  return fromHello(h, { url: parsed.url, via: "flag", ...(token ? { token } : {}) });
}

/** A selector that names more than one usable engine: the user has to say which. */
export class EngineSelectError extends Error {
  constructor(readonly selector: string, readonly matches: DiscoveredEngine[]) {
    super(
      `--engine-select ${JSON.stringify(selector)} matches ${matches.length} engines; ` +
        `pick one by pid or URL:\n${matches.map((e) => `  ${describeEngine(e)}`).join("\n")}`,
    );
    this.name = "EngineSelectError";
  }
}

/** One line telling an engine apart from others of the same name (no token). */
export function describeEngine(e: DiscoveredEngine): string {
  return [
    e.name,
    e.pid !== undefined ? `pid ${e.pid}` : "pid ?",
    e.url || "(no hub)",
    `via ${e.via}`,
    e.usable ? "usable" : `unusable: ${e.why ?? "unknown"}`,
  ].join("\t");
}

/** The hub engines a selector names: name, pid, instance id or URL. */
export function matchEngines(engines: DiscoveredEngine[], selector: string): DiscoveredEngine[] {
  return engines.filter((e) =>
    e.url !== "" &&
    (e.name === selector || String(e.pid) === selector || e.instanceId === selector ||
      e.url === selector)
  );
}

/**
 * Chooses the engine to link: an explicit one always wins; else the one `selector` names (its
 * name, pid, instance id or URL) — among usable engines when one is, and an EngineSelectError when
 * it names several usable ones; else the first usable engine (newest with a port file). An
 * unusable engine is chosen only when the selector names nothing else (the link then says why).
 */
export function selectEngine(
  engines: DiscoveredEngine[],
  selector?: string,
): DiscoveredEngine | undefined {
  const flag = engines.find((e) => e.via === "flag");
  if (flag) return flag;
  if (selector) {
    const matches = matchEngines(engines, selector);
    const usable = matches.filter((e) => e.usable);
    if (usable.length > 1) throw new EngineSelectError(selector, usable);
    return usable[0] ?? matches[0];
  }
  return engines.find((e) => e.usable);
}

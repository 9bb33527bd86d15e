/**
 * The site's configuration: one JSON file (site.sample.json shows every key) plus environment
 * variables for the secrets, which win over the file so the file can be shared or committed
 * without them:
 *
 *   SMX_SITE_LIVEKIT_KEY          livekit.apiKey      (not a secret: it is the tokens' issuer)
 *   SMX_SITE_LIVEKIT_SECRET       livekit.apiSecret
 *   SMX_SITE_CENTRIFUGO_SECRET    centrifugo.tokenSecret   (Centrifugo's client.token.hmac_secret_key)
 *   SMX_SITE_CENTRIFUGO_API_KEY   centrifugo.apiKey        (Centrifugo's http_api.key)
 *
 * Anything missing or malformed is an error naming the key and what it wants; unknown keys are
 * errors too (a misspelt `trustedProxies` must not silently trust nobody, or everybody).
 */
import { ENGINE_ID_RE } from "../protocol/wan.ts";
import { HEADER_PRESETS, type HeaderNames, type HeaderPreset } from "./auth.ts";
import { type IpRange, parseRange } from "./ip.ts";

export interface EngineConfig {
  id: string;
  label: string;
  /** Groups allowed to open it (any one suffices); absent: every signed-in user. */
  groups?: string[];
}

export interface SiteConfig {
  listen: { hostname: string; port: number };
  /** The origin browsers use (scheme://host[:port]); Host and Origin must name it. */
  publicOrigin: string;
  /** Addresses whose forward-auth headers are believed (the SSO proxy's). */
  trustedProxies: IpRange[];
  auth: {
    preset: HeaderPreset;
    headers: HeaderNames;
    groupsSeparator: string;
    /** Where a signed-out page navigates to sign in (in every 401's `login`). */
    login: string;
  };
  livekit: { url: string; apiKey: string; apiSecret: string };
  centrifugo: {
    /** The browser's WebSocket URL (…/connection/websocket). */
    url: string;
    /** Centrifugo's server API prefix as the site reaches it, e.g. http://127.0.0.1:8000/api. */
    apiUrl: string;
    apiKey: string;
    tokenSecret: string;
  };
  tokenTtlSeconds: number;
  engines: EngineConfig[];
  /**
   * Who operates (issue 11): members of any of these groups get the full UI and write tokens;
   * every other signed-in user is a viewer (watch only: no smx_ctl token). Absent: every
   * signed-in user operates, as before roles existed.
   */
  operators?: { groups: string[] };
  /**
   * A public site: a visitor without a sign-in is an anonymous viewer, whose tokens come from a
   * mint limited per address and globally (token buckets). Only engines without `groups` are
   * open to anonymous viewers.
   */
  public?: PublicMint;
}

/** The anonymous mint's limits: per address and over all addresses (token buckets). */
export interface PublicMint {
  perAddress: { burst: number; perMinute: number };
  global: { burst: number; perSecond: number };
}

export const DEFAULT_PUBLIC_MINT: PublicMint = {
  perAddress: { burst: 10, perMinute: 20 },
  global: { burst: 200, perSecond: 50 },
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

export const DEFAULT_PORT = 7400;
export const DEFAULT_TTL_S = 600;

type Obj = Record<string, unknown>;

const ENV = {
  livekitKey: "SMX_SITE_LIVEKIT_KEY",
  livekitSecret: "SMX_SITE_LIVEKIT_SECRET",
  centrifugoSecret: "SMX_SITE_CENTRIFUGO_SECRET",
  centrifugoApiKey: "SMX_SITE_CENTRIFUGO_API_KEY",
} as const;

/** Reads and checks the file at `path`; secrets from `env` win over the file. */
export async function loadConfig(
  path: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<SiteConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, env, path);
}

export function parseConfig(
  raw: unknown,
  env: (name: string) => string | undefined = () => undefined,
  source = "config",
): SiteConfig {
  const fail = (key: string, want: string): never => {
    throw new ConfigError(`${source}: ${key}: ${want}`);
  };
  const obj = (v: unknown, key: string, keys: string[]): Obj => {
    if (!v || typeof v !== "object" || Array.isArray(v)) fail(key, "must be an object");
    for (const k of Object.keys(v as Obj)) {
      if (!keys.includes(k)) fail(`${key}.${k}`, `unknown key (known: ${keys.join(", ")})`);
    }
    return v as Obj;
  };
  const str = (v: unknown, key: string, def?: string): string => {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== "string" || !v.trim()) fail(key, "must be a non-empty string");
    return (v as string).trim();
  };
  /** A secret: the environment variable wins, else the file; required. */
  const secret = (v: unknown, key: string, envName: string): string => {
    const e = env(envName);
    if (e !== undefined && e !== "") return e;
    if (v === undefined) fail(key, `missing: set it in the file or in ${envName}`);
    if (typeof v !== "string" || !v) fail(key, `must be a non-empty string (or set ${envName})`);
    return v as string;
  };
  const url = (v: unknown, key: string, schemes: string[]): string => {
    const s = str(v, key);
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return fail(key, `not a URL: ${JSON.stringify(s)}`);
    }
    if (!schemes.includes(u.protocol)) fail(key, `must be a ${schemes.join(" or ")} URL`);
    if (u.username || u.password) fail(key, "must not carry credentials");
    return s;
  };

  const top = obj(raw, "(top level)", [
    "listen",
    "publicOrigin",
    "trustedProxies",
    "auth",
    "livekit",
    "centrifugo",
    "tokenTtlSeconds",
    "engines",
    "operators",
    "public",
    "publicMint",
  ]);

  // listen
  const listenRaw = top.listen === undefined ? {} : obj(top.listen, "listen", ["hostname", "port"]);
  const hostname = str(listenRaw.hostname, "listen.hostname", "127.0.0.1");
  const port = listenRaw.port ?? DEFAULT_PORT;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    fail("listen.port", "a whole number 0..65535");
  }

  // publicOrigin
  const originText = url(top.publicOrigin, "publicOrigin", ["https:", "http:"]);
  const origin = new URL(originText);
  if ((origin.pathname !== "/" && origin.pathname !== "") || origin.search || origin.hash) {
    fail("publicOrigin", "an origin only (scheme://host[:port]), no path or query");
  }
  if (origin.protocol === "http:" && !isLoopbackName(origin.hostname)) {
    fail("publicOrigin", "must be https:// (plain http only for a loopback host, in tests)");
  }

  // trustedProxies
  if (!Array.isArray(top.trustedProxies) || top.trustedProxies.length === 0) {
    fail("trustedProxies", "a non-empty array of the SSO proxy's addresses (IP or CIDR)");
  }
  const trustedProxies = (top.trustedProxies as unknown[]).map((t, i) => {
    const r = typeof t === "string" ? parseRange(t) : null;
    if (!r) return fail(`trustedProxies[${i}]`, `not an IP address or CIDR: ${JSON.stringify(t)}`);
    if (r.prefix === 0) {
      return fail(`trustedProxies[${i}]`, "trusting every address lets anyone forge a sign-in");
    }
    return r;
  });

  // auth
  const authRaw = obj(top.auth, "auth", ["preset", "headers", "groupsSeparator", "login"]);
  const preset = str(authRaw.preset, "auth.preset", "authentik") as HeaderPreset;
  if (!(preset in HEADER_PRESETS)) {
    fail("auth.preset", `one of ${Object.keys(HEADER_PRESETS).join(", ")}`);
  }
  const p = HEADER_PRESETS[preset];
  const headerKeys = ["id", "username", "name", "email", "groups"] as const;
  const hRaw = authRaw.headers === undefined
    ? {}
    : obj(authRaw.headers, "auth.headers", [...headerKeys]);
  const headers = {} as HeaderNames;
  for (const k of headerKeys) {
    const v = str(hRaw[k], `auth.headers.${k}`, p.headers[k]);
    if (!/^[A-Za-z0-9-]+$/.test(v)) fail(`auth.headers.${k}`, "an HTTP header name");
    headers[k] = v.toLowerCase();
  }
  const groupsSeparator = authRaw.groupsSeparator === undefined
    ? p.groupsSeparator
    : typeof authRaw.groupsSeparator === "string" && authRaw.groupsSeparator.length === 1
    ? authRaw.groupsSeparator
    : fail("auth.groupsSeparator", "one character");
  const login = str(authRaw.login, "auth.login", p.login);
  if (!(login.startsWith("/") && !login.startsWith("//"))) {
    try {
      const u = new URL(login);
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
    } catch {
      fail("auth.login", "a path on this site (/…) or an http(s) URL");
    }
  }

  // livekit
  const lk = obj(top.livekit, "livekit", ["url", "apiKey", "apiSecret"]);
  const livekit = {
    url: url(lk.url, "livekit.url", ["wss:", "ws:", "https:", "http:"]),
    apiKey: env(ENV.livekitKey) || str(lk.apiKey, "livekit.apiKey"),
    apiSecret: secret(lk.apiSecret, "livekit.apiSecret", ENV.livekitSecret),
  };

  // centrifugo
  const cf = obj(top.centrifugo, "centrifugo", ["url", "apiUrl", "apiKey", "tokenSecret"]);
  const centrifugo = {
    url: url(cf.url, "centrifugo.url", ["wss:", "ws:"]),
    apiUrl: url(cf.apiUrl, "centrifugo.apiUrl", ["http:", "https:"]).replace(/\/+$/, ""),
    apiKey: secret(cf.apiKey, "centrifugo.apiKey", ENV.centrifugoApiKey),
    tokenSecret: secret(cf.tokenSecret, "centrifugo.tokenSecret", ENV.centrifugoSecret),
  };

  if (new URL(centrifugo.apiUrl).pathname === "/") {
    // A bare host is surely a mistake: presence would 404 and every engine look offline.
    fail("centrifugo.apiUrl", `the server API prefix, e.g. ${centrifugo.apiUrl}/api (as in smx's)`);
  }

  // tokenTtlSeconds
  const ttl = top.tokenTtlSeconds ?? DEFAULT_TTL_S;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 60 || ttl > 3600) {
    fail("tokenTtlSeconds", "a whole number of seconds, 60..3600");
  }

  // engines
  if (!Array.isArray(top.engines) || top.engines.length === 0) {
    fail("engines", "a non-empty array of {id, label?, groups?}");
  }
  const seen = new Set<string>();
  const engines = (top.engines as unknown[]).map((e, i): EngineConfig => {
    const key = `engines[${i}]`;
    const o = obj(e, key, ["id", "label", "groups"]);
    const id = str(o.id, `${key}.id`);
    if (!ENGINE_ID_RE.test(id)) {
      fail(`${key}.id`, `${JSON.stringify(id)} does not match ${ENGINE_ID_RE}`);
    }
    if (seen.has(id)) fail(`${key}.id`, `${id} is listed twice`);
    seen.add(id);
    const label = str(o.label, `${key}.label`, id);
    if (o.groups === undefined) return { id, label };
    if (
      !Array.isArray(o.groups) || o.groups.length === 0 ||
      !o.groups.every((g) => typeof g === "string" && g.length > 0)
    ) {
      fail(`${key}.groups`, "a non-empty array of group names (leave it out to allow everyone)");
    }
    return { id, label, groups: [...o.groups as string[]] };
  });

  // operators
  let operators: SiteConfig["operators"];
  if (top.operators !== undefined) {
    const o = obj(top.operators, "operators", ["groups"]);
    if (
      !Array.isArray(o.groups) || o.groups.length === 0 ||
      !o.groups.every((g) => typeof g === "string" && g.length > 0)
    ) {
      fail(
        "operators.groups",
        "a non-empty array of group names (leave operators out: all operate)",
      );
    }
    operators = { groups: [...o.groups as string[]] };
  }

  // public, publicMint
  if (top.public !== undefined && typeof top.public !== "boolean") fail("public", "true or false");
  if (top.publicMint !== undefined && top.public !== true) {
    fail("publicMint", "only with public: true");
  }
  let pub: PublicMint | undefined;
  if (top.public === true) {
    const positive = (v: unknown, key: string, def: number): number => {
      if (v === undefined) return def;
      if (typeof v !== "number" || !(v > 0) || v > 1e6) fail(key, "a positive number");
      return v as number;
    };
    const m = top.publicMint === undefined
      ? {}
      : obj(top.publicMint, "publicMint", ["perAddress", "global"]);
    const pa = m.perAddress === undefined
      ? {}
      : obj(m.perAddress, "publicMint.perAddress", ["burst", "perMinute"]);
    const gl = m.global === undefined
      ? {}
      : obj(m.global, "publicMint.global", ["burst", "perSecond"]);
    const d = DEFAULT_PUBLIC_MINT;
    pub = {
      perAddress: {
        burst: positive(pa.burst, "publicMint.perAddress.burst", d.perAddress.burst),
        perMinute: positive(
          pa.perMinute,
          "publicMint.perAddress.perMinute",
          d.perAddress.perMinute,
        ),
      },
      global: {
        burst: positive(gl.burst, "publicMint.global.burst", d.global.burst),
        perSecond: positive(gl.perSecond, "publicMint.global.perSecond", d.global.perSecond),
      },
    };
  }

  return {
    ...(operators ? { operators } : {}),
    ...(pub ? { public: pub } : {}),
    listen: { hostname, port: port as number },
    publicOrigin: origin.origin,
    trustedProxies,
    auth: { preset, headers, groupsSeparator: groupsSeparator as string, login },
    livekit,
    centrifugo,
    tokenTtlSeconds: ttl as number,
    engines,
  };
}

function isLoopbackName(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * smx's WAN configuration (`--wan FILE` or SMX_WAN=FILE): which engine id it publishes as and how
 * it reaches LiveKit and Centrifugo. Secrets may come from the environment instead of the file so
 * the file can be shared (SMX_WAN_LIVEKIT_SECRET, SMX_WAN_CENTRIFUGO_SECRET,
 * SMX_WAN_CENTRIFUGO_API_KEY). Every problem is reported at once, with the field's name.
 *
 *   {
 *     "engine": "studio-a",                  // ENGINE_ID_RE; names the room and the channels
 *     "label": "Studio A",                   // optional, what the site's engine list shows
 *     "livekit": { "url": "wss://lk.example.com", "apiKey": "…", "apiSecret": "…" },
 *     "centrifugo": {
 *       "url": "wss://rt.example.com/connection/websocket",
 *       "apiUrl": "https://rt.example.com/api", "apiKey": "…", "tokenSecret": "…"
 *     },
 *     "unpublishAfterSeconds": 10,           // optional
 *     "iceAddress": "192.0.2.10"             // optional: ICE (media) only on this local address
 *   }
 */
import { ENGINE_ID_RE, UNPUBLISH_AFTER_MS } from "../../protocol/wan.ts";

export interface WanConfig {
  engine: string;
  label: string;
  livekit: { url: string; apiKey: string; apiSecret: string };
  centrifugo: { url: string; apiUrl: string; apiKey: string; tokenSecret: string };
  unpublishAfterMs: number;
  /**
   * The one local address smx's WebRTC sockets bind to and offer (a studio machine with several
   * networks; the tests' loopback). Absent: every address, as WebRTC does.
   */
  iceAddress?: string;
}

export class WanConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`WAN config ${source}: ${problems.join("; ")}`);
    this.name = "WanConfigError";
  }
}

type Env = (name: string) => string | undefined;

/** Parses and checks a WAN config; `source` names it in errors. */
export function parseWanConfig(
  raw: unknown,
  source = "(config)",
  env: Env = (n) => Deno.env.get(n),
): WanConfig {
  const problems: string[] = [];
  const o = (raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as Record<
    string,
    unknown
  >;
  if (o !== raw) problems.push("must be a JSON object");
  const section = (name: string) => {
    const v = o[name];
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    problems.push(`"${name}" must be an object`);
    return {};
  };
  const str = (obj: Record<string, unknown>, path: string, key: string, envName?: string) => {
    const v = (envName && env(envName)) || obj[key];
    if (typeof v === "string" && v.trim()) return v.trim();
    problems.push(`"${path}.${key}" is required${envName ? ` (or ${envName})` : ""}`);
    return "";
  };
  const url = (value: string, field: string, schemes: string[]) => {
    if (!value) return value;
    try {
      const u = new URL(value);
      if (!schemes.includes(u.protocol)) {
        problems.push(`"${field}" must be a ${schemes.join(" or ")} URL, got ${u.protocol}`);
      }
    } catch {
      problems.push(`"${field}" is not a URL: ${JSON.stringify(value)}`);
    }
    return value;
  };

  const engine = typeof o.engine === "string" ? o.engine : "";
  if (!ENGINE_ID_RE.test(engine)) {
    problems.push(
      `"engine" must match ${ENGINE_ID_RE} (lower-case id), got ${JSON.stringify(o.engine)}`,
    );
  }
  const label = typeof o.label === "string" && o.label.trim() ? o.label.trim() : engine;
  const lk = section("livekit");
  const cf = section("centrifugo");
  const livekit = {
    url: url(str(lk, "livekit", "url"), "livekit.url", ["ws:", "wss:", "http:", "https:"]),
    apiKey: str(lk, "livekit", "apiKey"),
    apiSecret: str(lk, "livekit", "apiSecret", "SMX_WAN_LIVEKIT_SECRET"),
  };
  const centrifugo = {
    url: url(str(cf, "centrifugo", "url"), "centrifugo.url", ["ws:", "wss:"]),
    apiUrl: url(str(cf, "centrifugo", "apiUrl"), "centrifugo.apiUrl", ["http:", "https:"]),
    apiKey: str(cf, "centrifugo", "apiKey", "SMX_WAN_CENTRIFUGO_API_KEY"),
    tokenSecret: str(cf, "centrifugo", "tokenSecret", "SMX_WAN_CENTRIFUGO_SECRET"),
  };
  let unpublishAfterMs = UNPUBLISH_AFTER_MS;
  if (o.unpublishAfterSeconds !== undefined) {
    const s = o.unpublishAfterSeconds;
    if (typeof s !== "number" || !(s >= 0 && s <= 3600)) {
      problems.push(`"unpublishAfterSeconds" must be a number from 0 to 3600`);
    } else unpublishAfterMs = s * 1000;
  }
  let iceAddress: string | undefined;
  if (o.iceAddress !== undefined) {
    const a = o.iceAddress;
    if (typeof a !== "string" || !/^(\d{1,3}\.){3}\d{1,3}$/.test(a)) {
      problems.push(`"iceAddress" must be an IPv4 address`);
    } else iceAddress = a;
  }
  if (problems.length) throw new WanConfigError(source, problems);
  return { engine, label, livekit, centrifugo, unpublishAfterMs, iceAddress };
}

/** Reads and parses a WAN config file. */
export async function loadWanConfig(path: string, env?: Env): Promise<WanConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new WanConfigError(path, [`cannot be read: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WanConfigError(path, [`is not JSON: ${(e as Error).message}`]);
  }
  return parseWanConfig(raw, path, env);
}

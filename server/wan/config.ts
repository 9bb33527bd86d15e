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
 *     "iceAddress": "192.0.2.10",            // optional: ICE (media) only on this local address
 *     "venues": [{ "id": "stage", "title": "Main stage", "output": "main", "onAir": true }],
 *     "venueLadder": [{ "width": 1280, "height": 720, "fps": 30 }]  // optional (VENUE_LADDER)
 *   }
 */
import { ENGINE_ID_RE, UNPUBLISH_AFTER_MS } from "../../protocol/wan.ts";
import type { Rendition } from "../../protocol/size_classes.ts";
import { checkTitle, MAX_VENUES, VENUE_ID_RE } from "../../protocol/venues.ts";

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
  /** Audience venues at start (operators change them live: server/wan/venues/README.md). */
  venues: { id: string; title: string; output: string; onAir: boolean }[];
  /** The renditions every on-air venue is published at (default VENUE_LADDER). */
  venueLadder?: Rendition[];
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
  const venues: WanConfig["venues"] = [];
  if (o.venues !== undefined) {
    if (!Array.isArray(o.venues) || o.venues.length > MAX_VENUES) {
      problems.push(`"venues" must be an array of at most ${MAX_VENUES}`);
    } else {
      for (const [i, v] of (o.venues as Record<string, unknown>[]).entries()) {
        const t = checkTitle(v?.title ?? v?.id);
        if (typeof v?.id !== "string" || !VENUE_ID_RE.test(v.id)) {
          problems.push(`"venues[${i}].id" must match ${VENUE_ID_RE.source}`);
        } else if (typeof v.output !== "string" || !v.output) {
          problems.push(`"venues[${i}].output" must name an engine output`);
        } else if (!t.ok) problems.push(`"venues[${i}].title": ${t.message}`);
        else if (v.onAir !== undefined && typeof v.onAir !== "boolean") {
          problems.push(`"venues[${i}].onAir" must be true or false`);
        } else venues.push({ id: v.id, title: t.title, output: v.output, onAir: v.onAir === true });
      }
    }
  }
  let venueLadder: Rendition[] | undefined;
  if (o.venueLadder !== undefined) {
    const l = o.venueLadder as Record<string, unknown>[];
    const ok = Array.isArray(l) && l.length >= 1 && l.length <= 4 &&
      l.every((r) =>
        [r?.width, r?.height].every((n) =>
          Number.isInteger(n) && (n as number) >= 16 && (n as number) <= 3840 &&
          (n as number) % 2 === 0
        ) && Number.isInteger(r.fps) && (r.fps as number) >= 1 && (r.fps as number) <= 60
      );
    if (!ok) {
      problems.push(
        `"venueLadder" must be 1 to 4 of {width, height (even, 16..3840), fps (1..60)}`,
      );
    } else {venueLadder = l.map((r) =>
        ({ width: r.width, height: r.height, fps: r.fps }) as Rendition
      );}
  }
  if (problems.length) throw new WanConfigError(source, problems);
  return {
    engine,
    label,
    livekit,
    centrifugo,
    unpublishAfterMs,
    iceAddress,
    venues,
    ...(venueLadder ? { venueLadder } : {}),
  };
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

/**
 * Parameter hub wire protocol (runtime-neutral: imported by demo/, server/ and the browser UI).
 *
 * One envelope for both links: engine ⇄ smx (`/ws/hub` on the engine) and smx ⇄ browser
 * (`/ws/params` on smx), so smx relays with little work. Every message is one JSON text frame
 * `{ "v": 1, "type": ..., ... }`. Full description: docs/engine-protocol.md.
 *
 *   server → client: snapshot | delta | ack | error | ping | pong | link (smx → browser only)
 *   client → server: set | sync | ping | pong
 *
 * Revisions: the hub's `rev` counts applied changes (one per change, starting at 0 for the
 * snapshot of a fresh hub). A delta carries the rev AFTER its last change, so a mirror at rev R
 * expects `msg.rev === R + changes.length / 2`; anything else is a gap → send `sync`.
 */

export const PARAMS_WIRE_VERSION = 1;
/**
 * Largest message a peer accepts from a client (browsers, smx writes). Larger → `too_large` and
 * close 1009. In Deno this is checked only once the runtime has buffered the whole message:
 * Deno.upgradeWebSocket has no size option (2.9.6: protocol, idleTimeout, socket, head;
 * denoland/deno#15809), so its own cap — fastwebsockets' 64 MiB default — is the only one applied
 * while receiving; bigger messages fail the connection at the frame header, before buffering.
 * Measured (2-core VM): four concurrent 60 MiB messages at smx's /ws/params took RSS from 39 MB
 * to a 422–488 MB peak (about 110 MB each: the frame buffer and the JS string), all refused and
 * closed 1009; one of 64 MiB + 1 byte peaked at 45 MB. smx listens on loopback with Host/Origin
 * checks, which is what limits who can send them.
 */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;
/** Largest string value; longer strings are refused (`out_of_range`). */
export const MAX_STRING_CHARS = 4096;
/** Channel paths: dotted segments, e.g. `Scene.Background.Hue`, `Output.Main.MouseX`. */
export const CHANNEL_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;

// ---------------------------------------------------------------- values and metadata

export type ValueType =
  | "float"
  | "int"
  | "bool"
  | "string"
  | "enum"
  | "color"
  | "vec2"
  | "vec3"
  | "vec4"
  | "trigger";

export const VALUE_TYPES: readonly ValueType[] = [
  "float",
  "int",
  "bool",
  "string",
  "enum",
  "color",
  "vec2",
  "vec3",
  "vec4",
  "trigger",
];

/**
 * A value on the wire, by type:
 * float/int → number; bool → boolean; string/enum → string; color → "#rrggbb" or "#rrggbbaa"
 * (lowercase after normalisation); vec2/3/4 → number[] of that length; trigger → in the hub the
 * fire count (int), in a `set` the literal `true` (each set fires once, the echo carries the count).
 */
export type ParamValue = number | boolean | string | number[];

/** One channel's metadata, from the parameter spec CSV (or generated, e.g. pointer channels). */
export interface ChannelMeta {
  path: string;
  type: ValueType;
  label: string;
  group: string;
  page: string;
  default: ParamValue;
  /** Inclusive bounds (float, int, and each vec component). */
  min?: number;
  max?: number;
  step?: number;
  unit?: string;
  /** enum only: allowed values, in display order. */
  options?: string[];
  readOnly?: boolean;
  /** Not a UI row (pointer sub-channels); still readable and writable. */
  hidden?: boolean;
  description?: string;
}

export type ParamErrorCode =
  | "bad_json" // not JSON or not an object
  | "bad_utf8" // binary frame that is not valid UTF-8
  | "bad_message" // missing/ill-typed fields
  | "version" // `v` is not PARAMS_WIRE_VERSION
  | "unknown_type" // unknown `type`
  | "unknown_channel"
  | "wrong_type" // value does not match the channel's type
  | "out_of_range" // number/length/option outside the metadata
  | "read_only"
  | "too_large" // message over MAX_CLIENT_MESSAGE_BYTES
  | "rate_limited"
  | "engine_offline" // smx has no engine link right now
  | "timeout" // the engine did not acknowledge in time
  | "unauthorized";

export interface ParamError {
  code: ParamErrorCode;
  message: string;
}

const COLOR_RE = /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/;
const VEC_LEN: Partial<Record<ValueType, number>> = { vec2: 2, vec3: 3, vec4: 4 };

function err(code: ParamErrorCode, message: string): ParamError {
  return { code, message };
}

/** True when a string has no lone surrogates (JSON can carry "\ud800"; engines choke on it). */
export function isWellFormedText(s: string): boolean {
  // deno-lint-ignore no-explicit-any
  const f = (s as any).isWellFormed;
  if (typeof f === "function") return f.call(s);
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

function show(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? "an array" : String(v);
  return s.length > 40 ? s.slice(0, 37) + "…" : s;
}

function inRange(meta: ChannelMeta, n: number, what: string): ParamError | null {
  if ((meta.min !== undefined && n < meta.min) || (meta.max !== undefined && n > meta.max)) {
    return err(
      "out_of_range",
      `${meta.path}: ${what}${n} is outside ${meta.min ?? "-∞"}..${meta.max ?? "∞"}`,
    );
  }
  return null;
}

/**
 * Checks a value a client wants to WRITE against the channel's metadata. Returns null when it is
 * acceptable, otherwise an error whose message names the channel, the value and the rule.
 */
export function validateValue(meta: ChannelMeta, value: unknown): ParamError | null {
  if (meta.readOnly) return err("read_only", `${meta.path} is read-only`);
  const t = meta.type;
  const want = (kind: string) =>
    err("wrong_type", `${meta.path} is ${t}: expected ${kind}, got ${show(value)}`);
  switch (t) {
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) return want("a finite number");
      return inRange(meta, value, "");
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) return want("an integer");
      return inRange(meta, value, "");
    case "bool":
      return typeof value === "boolean" ? null : want("true or false");
    case "trigger":
      return value === true ? null : want("true (a set fires the trigger once)");
    case "string":
      if (typeof value !== "string") return want("a string");
      if (value.length > MAX_STRING_CHARS) {
        return err("out_of_range", `${meta.path}: string longer than ${MAX_STRING_CHARS} chars`);
      }
      return isWellFormedText(value)
        ? null
        : err("wrong_type", `${meta.path}: string contains invalid Unicode (lone surrogate)`);
    case "enum":
      if (typeof value !== "string") return want("one of the option strings");
      return meta.options?.includes(value) ? null : err(
        "out_of_range",
        `${meta.path}: ${show(value)} is not one of ${(meta.options ?? []).join(", ")}`,
      );
    case "color":
      return typeof value === "string" && COLOR_RE.test(value) ? null : want('"#rrggbb[aa]"');
    case "vec2":
    case "vec3":
    case "vec4": {
      const n = VEC_LEN[t]!;
      if (!Array.isArray(value) || value.length !== n) return want(`an array of ${n} numbers`);
      for (let i = 0; i < n; i++) {
        const c = value[i];
        if (typeof c !== "number" || !Number.isFinite(c)) return want(`an array of ${n} numbers`);
        const r = inRange(meta, c, `component ${i} = `);
        if (r) return r;
      }
      return null;
    }
  }
  return err("wrong_type", `${meta.path}: unknown channel type ${show(t)}`);
}

/** Canonical form of an already-validated value (colours lowercase; vectors copied). */
export function normalizeValue(meta: ChannelMeta, value: ParamValue): ParamValue {
  if (meta.type === "color") return (value as string).toLowerCase();
  if (Array.isArray(value)) return value.slice();
  return value;
}

/** Deep equality for wire values (numbers, booleans, strings, number arrays). */
export function valuesEqual(a: ParamValue, b: ParamValue): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- pointer sub-channels

/**
 * Interactive previews take input through ordinary channels under the frame sender's prefix:
 * MouseX/MouseY (float 0..1 in texture space, x right, y down, letterbox excluded), Buttons (int
 * bit mask: 1 left, 2 right, 4 middle), Wheel (float, accumulated wheel notches since start; the
 * client adds each wheel delta), IsOver (bool).
 */
export interface PointerChannels {
  x: string;
  y: string;
  buttons: string;
  wheel: string;
  isOver: string;
}

export function pointerChannels(prefix: string): PointerChannels {
  return {
    x: `${prefix}.MouseX`,
    y: `${prefix}.MouseY`,
    buttons: `${prefix}.Buttons`,
    wheel: `${prefix}.Wheel`,
    isOver: `${prefix}.IsOver`,
  };
}

/** Metadata the engine advertises for one sender's pointer channels (hidden rows). */
export function pointerChannelMetas(prefix: string, label: string): ChannelMeta[] {
  const p = pointerChannels(prefix);
  const base = { group: "Pointer", page: "Pointer", hidden: true } as const;
  return [
    { ...base, path: p.x, type: "float", label: `${label} MouseX`, min: 0, max: 1, default: 0.5 },
    { ...base, path: p.y, type: "float", label: `${label} MouseY`, min: 0, max: 1, default: 0.5 },
    {
      ...base,
      path: p.buttons,
      type: "int",
      label: `${label} Buttons`,
      min: 0,
      max: 31,
      default: 0,
    },
    { ...base, path: p.wheel, type: "float", label: `${label} Wheel`, default: 0 },
    { ...base, path: p.isOver, type: "bool", label: `${label} IsOver`, default: false },
  ];
}

// ---------------------------------------------------------------- messages

/** Full state. Sent first on every connection, and again after `sync` or an engine restart. */
export interface SnapshotMsg {
  v: 1;
  type: "snapshot";
  rev: number;
  /** Changes whenever the engine restarts; a new instance means a new rev sequence. */
  instanceId: string;
  engine: string;
  channels: ChannelMeta[];
  values: Record<string, ParamValue>;
}

/** Ordered changes, flat: [path0, value0, path1, value1, ...]; `rev` is after the last one. */
export interface DeltaMsg {
  v: 1;
  type: "delta";
  rev: number;
  changes: (string | ParamValue)[];
}

/** A `set` was applied; its change is in a delta at or before `rev` on this connection. */
export interface AckMsg {
  v: 1;
  type: "ack";
  id: number;
  rev: number;
}

/** A refused message. `id` is the `set`'s id when the error answers one. */
export interface ErrorMsg {
  v: 1;
  type: "error";
  id?: number;
  code: ParamErrorCode;
  message: string;
  path?: string;
}

export interface PingMsg {
  v: 1;
  type: "ping";
  t: number;
}
export interface PongMsg {
  v: 1;
  type: "pong";
  t: number;
}

export type LinkState = "connected" | "connecting" | "offline";

/** smx → browser only: whether smx currently mirrors a live engine. */
export interface LinkMsg {
  v: 1;
  type: "link";
  state: LinkState;
  engine: { name: string; instanceId: string; url: string } | null;
  message?: string;
}

/** Write one channel. `id`: client-chosen positive integer, echoed in the ack or error. */
export interface SetMsg {
  v: 1;
  type: "set";
  id: number;
  path: string;
  value: ParamValue;
}

/** Ask for a fresh snapshot (after a detected gap). */
export interface SyncMsg {
  v: 1;
  type: "sync";
}

export type ServerMsg = SnapshotMsg | DeltaMsg | AckMsg | ErrorMsg | PingMsg | PongMsg | LinkMsg;
export type ClientMsg = SetMsg | SyncMsg | PingMsg | PongMsg;

export type Parsed<T> = { ok: true; msg: T } | { ok: false; error: ParamError; id?: number };

function fail<T>(code: ParamErrorCode, message: string, id?: number): Parsed<T> {
  return { ok: false, error: { code, message }, id };
}

/** Parses and shape-checks a client → server message. Values are checked later, per channel. */
export function parseClientMessage(text: string): Parsed<ClientMsg> {
  if (text.length > MAX_CLIENT_MESSAGE_BYTES) {
    return fail("too_large", `message of ${text.length} chars exceeds ${MAX_CLIENT_MESSAGE_BYTES}`);
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text);
  } catch {
    return fail("bad_json", "message is not valid JSON");
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    return fail("bad_json", "message must be a JSON object");
  }
  const id = typeof m.id === "number" ? m.id : undefined;
  if (m.v !== PARAMS_WIRE_VERSION) {
    return fail("version", `unsupported protocol version ${show(m.v)}; this peer speaks v1`, id);
  }
  switch (m.type) {
    case "set":
      if (typeof m.id !== "number" || !Number.isSafeInteger(m.id) || m.id < 1) {
        return fail("bad_message", "set needs an integer id ≥ 1");
      }
      if (typeof m.path !== "string" || !CHANNEL_PATH_RE.test(m.path)) {
        return fail("bad_message", `set needs a channel path, got ${show(m.path)}`, id);
      }
      if (!("value" in m)) return fail("bad_message", `set ${m.path} has no value`, id);
      return { ok: true, msg: m as unknown as SetMsg };
    case "sync":
      return { ok: true, msg: m as unknown as SyncMsg };
    case "ping":
    case "pong":
      // Finite: JSON.parse turns 1e400 into Infinity, and a pong echoing it as `"t":Infinity`
      // would not be JSON (peers answer with a template for speed).
      if (typeof m.t !== "number" || !Number.isFinite(m.t)) {
        return fail("bad_message", `${m.type} needs a finite number t, got ${show(m.t)}`);
      }
      return { ok: true, msg: m as unknown as PingMsg | PongMsg };
    default:
      return fail("unknown_type", `unknown message type ${show(m.type)}`, id);
  }
}

/** Parses a server → client message (trusting the server's shapes beyond `v` and `type`). */
export function parseServerMessage(text: string): Parsed<ServerMsg> {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text);
  } catch {
    return fail("bad_json", "message is not valid JSON");
  }
  if (typeof m !== "object" || m === null) return fail("bad_json", "message must be an object");
  if (m.v !== PARAMS_WIRE_VERSION) return fail("version", `unsupported version ${show(m.v)}`);
  if (typeof m.type !== "string") return fail("bad_message", "message has no type");
  return { ok: true, msg: m as unknown as ServerMsg };
}

/** Calls fn for each change of a delta, in order. */
export function forEachChange(
  msg: DeltaMsg,
  fn: (path: string, value: ParamValue) => void,
): void {
  const c = msg.changes;
  for (let i = 0; i + 1 < c.length; i += 2) fn(c[i] as string, c[i + 1] as ParamValue);
}

export const encodeMessage = (m: ServerMsg | ClientMsg): string => JSON.stringify(m);
export const errorMsg = (e: ParamError, id?: number, path?: string): ErrorMsg => ({
  v: 1,
  type: "error",
  ...(id !== undefined ? { id } : {}),
  code: e.code,
  message: e.message,
  ...(path !== undefined ? { path } : {}),
});

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Text of an incoming WebSocket message, refusing oversize and non-UTF-8 input. Binary frames
 * are accepted when they hold valid UTF-8 JSON (some clients send bytes); Blobs are refused.
 */
export function messageText(
  data: unknown,
  maxBytes = MAX_CLIENT_MESSAGE_BYTES,
): { ok: true; text: string } | { ok: false; error: ParamError } {
  if (typeof data === "string") {
    // length counts UTF-16 units; every unit is ≥ 1 UTF-8 byte, so this never under-counts much.
    if (data.length > maxBytes) {
      return { ok: false, error: err("too_large", `message exceeds ${maxBytes} bytes`) };
    }
    return { ok: true, text: data };
  }
  let bytes: Uint8Array;
  if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {return {
      ok: false,
      error: err("bad_message", "unsupported message kind (expected text)"),
    };}
  if (bytes.byteLength > maxBytes) {
    return {
      ok: false,
      error: err("too_large", `message of ${bytes.byteLength} bytes exceeds ${maxBytes}`),
    };
  }
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, error: err("bad_utf8", "binary message is not valid UTF-8 text") };
  }
}

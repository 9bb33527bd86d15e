/**
 * The LAN reach on the wire, shared by smx and its pages: paths, the session cookie, the close
 * codes a page sees when its pairing ends, and the JSON of pairing and of the loopback-only LAN
 * API (`GET /api/lan` and friends, for the main UI's "Add a device" panel). Runtime-neutral.
 *
 * Pairing in one paragraph: smx makes a random secret per launch and shows
 * `http://<lan-ip>:<port>/pair#<secret>` as a QR code, plus an 8-digit code beside it. The /pair
 * page reads the secret from the fragment (never sent in a request line, a Referer or a log),
 * POSTs it to `/pair`, gets an HttpOnly session cookie and goes to `/`. Rotating the pairing ends
 * every LAN session at once.
 */

export const PAIR_PATH = "/pair";
export const LAN_API_PATH = "/api/lan";
export const LAN_ROTATE_PATH = "/api/lan/rotate";
export const QR_SVG_PATH = "/qr.svg";

export function lanDisconnectPath(deviceId: string): string {
  return `/api/lan/devices/${encodeURIComponent(deviceId)}/disconnect`;
}

/**
 * The session cookie's name. Cookies ignore ports, so two smx on one machine (7300, 7301) would
 * overwrite each other's cookie under one name: the port is part of it.
 */
export function sessionCookieName(port: number): string {
  return `smx_session_${port}`;
}

/**
 * WebSocket close code: this LAN device's pairing ended (the pairing was rotated, or the device
 * was never paired). The page should stop reconnecting and say "pairing expired, scan again".
 */
export const CLOSE_PAIRING_EXPIRED = 4401;
export const PAIRING_EXPIRED_REASON = "pairing expired: scan the QR code again";

/** WebSocket close code: the user disconnected this device on the smx machine. */
export const CLOSE_DEVICE_DISCONNECTED = 4403;
export const DEVICE_DISCONNECTED_REASON = "this device was disconnected on the smx machine";

/** Digits of the pairing code shown beside the QR. */
export const CODE_DIGITS = 8;

/** `POST /pair` body (JSON, same origin): the QR's secret, or the code typed by hand. */
export type PairRequest = { secret: string } | { code: string };

/** `POST /pair` answers. 200 with a Set-Cookie on success. */
export interface PairOk {
  ok: true;
  /** The device id (as listed by `GET /api/lan`); null on loopback, which needs no pairing. */
  device: string | null;
}

export type PairErrorKind =
  | "wrong" // 401: wrong or expired secret or code
  | "rate_limited" // 429: too many wrong attempts (Retry-After header and retryAfterS)
  | "bad_request" // 400/413/415: not a JSON PairRequest
  | "too_many_devices" // 503: every device slot holds a connected device
  | "off"; // 404: smx runs without --lan

export interface PairError {
  ok: false;
  error: PairErrorKind;
  /** A sentence for the person holding the device. */
  message: string;
  retryAfterS?: number;
}

export type PairResponse = PairOk | PairError;

/** One paired device, as `GET /api/lan` lists it. Times are milliseconds since the epoch. */
export interface LanDevice {
  id: string;
  /** The peer address it paired from (and was last seen at). */
  address: string;
  userAgent: string;
  since: number;
  lastSeen: number;
  /** Its open WebSockets (video, parameters…); > 0 means the device is connected now. */
  sockets: number;
}

/** `GET /api/lan` (loopback only): everything the "Add a device" panel shows. */
export interface LanStatus {
  /** False when smx runs without --lan; the other fields are then empty. */
  enabled: boolean;
  port: number;
  /** The LAN addresses smx listens on (loopback not included). */
  addresses: string[];
  /** `http://<address>:<port>/`, one per address. */
  urls: string[];
  /** The QR's URL (first address), with the secret in the fragment; null when there is none. */
  pairingUrl: string | null;
  /** The same for every address (a machine on two networks). */
  pairingUrls: string[];
  /** The 8-digit code; null when the LAN reach is off. */
  code: string | null;
  /** When the current secret and code were made (ms since the epoch). */
  since: number;
  devices: LanDevice[];
  /** Devices with at least one open WebSocket. */
  connected: number;
}

/** `POST /api/lan/rotate` (loopback only): the new pairing; every LAN session has ended. */
export interface RotateResult {
  pairingUrl: string | null;
  code: string;
  /** Sessions that ended. */
  ended: number;
}

/** `POST /api/lan/devices/:id/disconnect` (loopback only). 404 when the id is unknown. */
export interface DisconnectResult {
  ok: boolean;
}

/** `http://host:port` for an address (IPv6 in brackets). */
export function originOf(address: string, port: number): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return `http://${host}${port === 80 ? "" : `:${port}`}`;
}

export function pairingUrlOf(address: string, port: number, secret: string): string {
  return `${originOf(address, port)}${PAIR_PATH}#${secret}`;
}

/** The secret in a /pair URL's fragment (`#<base64url>`), or null when there is none. */
export function secretFromHash(hash: string): string | null {
  const s = hash.startsWith("#") ? hash.slice(1) : hash;
  return /^[A-Za-z0-9_-]{16,128}$/.test(s) ? s : null;
}

/** A typed code with its spaces and dashes removed, or null when it is not 8 digits. */
export function normalizeCode(typed: string): string | null {
  const digits = typed.replace(/[\s-]/g, "");
  return new RegExp(`^\\d{${CODE_DIGITS}}$`).test(digits) ? digits : null;
}

/** "12345678" → "1234 5678": easier to read out and type. */
export function formatCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)} ${code.slice(4)}` : code;
}

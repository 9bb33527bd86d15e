/**
 * IP addresses and CIDR ranges for the site's trusted-proxy rule: "is this peer one of the
 * configured proxy addresses?". IPv4, IPv6 (with `::`), and IPv4-mapped IPv6 (`::ffff:a.b.c.d`,
 * how a dual-stack listener may report an IPv4 peer), which counts as the IPv4 address.
 */

/** The address as 4 (IPv4) or 16 (IPv6) bytes, or null when it is not an IP address. */
export function parseIp(text: string): Uint8Array | null {
  const s = text.trim().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseV4(s);
  if (v4) return v4;
  const v6 = parseV6(s);
  if (!v6) return null;
  // ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket.
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

function parseV4(s: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((n) => n <= 255) ? Uint8Array.from(b) : null;
}

function parseV6(s: string): Uint8Array | null {
  if (!s.includes(":")) return null;
  let tail4: Uint8Array | null = null;
  let rest = s;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (!tail4) return null;
    rest = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const n = parseInt(all[i], 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

export interface IpRange {
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

/** "10.0.0.5", "10.0.0.0/24", "::1", "fd00::/8" → a range; null when malformed. */
export function parseRange(text: string): IpRange | null {
  const [addr, bits, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const bytes = parseIp(addr);
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return null;
  return { bytes, prefix, text: text.trim() };
}

export function inRange(address: string, range: IpRange): boolean {
  const a = parseIp(address);
  if (!a || a.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i] & mask) !== (range.bytes[i] & mask)) return false;
  }
  return true;
}

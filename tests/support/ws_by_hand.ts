/**
 * A WebSocket client made by hand over a plain TCP connection, for tests that need what a browser
 * or Deno's WebSocket will not do: never read (a stuck client), write frames as fast as the
 * socket takes them, see the exact close frame the server sends. (raw_ws.ts next to it reads as
 * data comes, throttled, or never; this one writes raw byte batches and reads only when asked.)
 */

export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
}

export interface RawClose {
  code: number;
  reason: string;
}

const enc = new TextEncoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** One masked client frame (a client must mask; the key is fixed, which is fine for tests). */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = new Uint8Array(head + 4 + n);
  f[0] = 0x80 | opcode;
  if (n < 126) f[1] = 0x80 | n;
  else if (n < 65536) {
    f[1] = 0x80 | 126;
    new DataView(f.buffer).setUint16(2, n);
  } else {
    f[1] = 0x80 | 127;
    new DataView(f.buffer).setBigUint64(2, BigInt(n));
  }
  const mask = [0x12, 0x34, 0x56, 0x78];
  f.set(mask, head);
  for (let i = 0; i < n; i++) f[head + 4 + i] = payload[i] ^ mask[i & 3];
  return f;
}

export const textFrame = (text: string) => clientFrame(0x1, enc.encode(text));

export class WsByHand {
  #pending: Uint8Array;

  private constructor(readonly conn: Deno.Conn, leftover: Uint8Array) {
    this.#pending = leftover;
  }

  /** Connects and upgrades; reads only the 101 response (kept: anything the server sent after). */
  static async open(port: number, path: string): Promise<WsByHand> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(
      conn,
      enc.encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    let got: Uint8Array = new Uint8Array(0);
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("connection closed during the handshake");
      got = concat(got, buf.subarray(0, n));
      const text = new TextDecoder("latin1").decode(got);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${text.slice(0, 80)}`);
      return new WsByHand(conn, got.slice(end + 4));
    }
  }

  send(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  sendText(text: string): Promise<void> {
    return this.send(textFrame(text));
  }

  /**
   * Reads frames until the server's close frame (or the end of the connection, or `timeoutMs`).
   * Returns everything read; `close` is null when no close frame came.
   */
  async readUntilClose(timeoutMs = 5000): Promise<{ frames: RawFrame[]; close: RawClose | null }> {
    const frames: RawFrame[] = [];
    const buf = new Uint8Array(1 << 16);
    const deadline = Date.now() + timeoutMs;
    let data = this.#pending;
    for (;;) {
      for (;;) { // parse what we have
        const f = parseFrame(data);
        if (!f) break;
        data = data.subarray(f.size);
        if (f.frame.opcode === 0x8) {
          const p = f.frame.payload;
          const code = p.length >= 2 ? (p[0] << 8) | p[1] : 1005;
          return { frames, close: { code, reason: new TextDecoder().decode(p.subarray(2)) } };
        }
        frames.push(f.frame);
      }
      const left = deadline - Date.now();
      if (left <= 0) return { frames, close: null };
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(buf).catch(() => null),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === null || n === "timeout") return { frames, close: null };
      data = concat(data, buf.subarray(0, n));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** One unmasked server frame from the start of `d`, or null when it is not all there yet. */
function parseFrame(d: Uint8Array): { frame: RawFrame; size: number } | null {
  if (d.length < 2) return null;
  let len = d[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (d.length < 4) return null;
    len = (d[2] << 8) | d[3];
    off = 4;
  } else if (len === 127) {
    if (d.length < 10) return null;
    len = Number(new DataView(d.buffer, d.byteOffset + 2, 8).getBigUint64(0));
    off = 10;
  }
  if (d.length < off + len) return null;
  return { frame: { opcode: d[0] & 0x0f, payload: d.slice(off, off + len) }, size: off + len };
}

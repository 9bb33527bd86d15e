/**
 * A WebSocket client written on a bare TCP connection, for tests that need what no WebSocket API
 * offers: reading at a chosen byte rate (a tablet on weak Wi-Fi), or not reading at all while
 * writing. Frames from the server are unmasked; ours are masked, as RFC 6455 requires.
 */

export interface RawWsOptions {
  /** Read at most this many bytes per second (default: as fast as they come). */
  readBytesPerSecond?: number;
  /** Do not read at all (the socket's receive window fills up and stays full). */
  neverRead?: boolean;
  origin?: string;
  onText?(text: string): void;
  onBinary?(data: Uint8Array): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class RawWs {
  #conn: Deno.TcpConn;
  #closed = false;
  #writing: Promise<unknown> = Promise.resolve();
  /** Resolves with the close code and reason (1006: the connection just ended). */
  readonly closed: Promise<{ code: number; reason: string }>;
  bytesRead = 0;

  private constructor(conn: Deno.TcpConn, rest: Uint8Array, private o: RawWsOptions) {
    this.#conn = conn;
    this.closed = o.neverRead ? new Promise(() => {}) : this.#readLoop(rest);
  }

  static async connect(port: number, path: string, o: RawWsOptions = {}): Promise<RawWs> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(enc.encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (o.origin ? `Origin: ${o.origin}\r\n` : "") + "\r\n",
    ));
    // Read the response head byte-block by byte-block until the blank line.
    let buf: Uint8Array = new Uint8Array(0);
    while (true) {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) throw new Error("connection closed during the WebSocket handshake");
      buf = concat(buf, chunk.subarray(0, n));
      const end = indexOfBlankLine(buf);
      if (end < 0) continue;
      const head = dec.decode(buf.subarray(0, end));
      if (!head.startsWith("HTTP/1.1 101")) {
        conn.close();
        throw new Error(`WebSocket upgrade refused: ${head.split("\r\n")[0]}`);
      }
      return new RawWs(conn, buf.subarray(end + 4), o);
    }
  }

  sendText(text: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const frame = maskedFrame(1, enc.encode(text));
    const p = this.#writing.then(() => this.#conn.write(frame)).catch(() => {});
    this.#writing = p;
    return p.then(() => {});
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  async #readLoop(initial: Uint8Array): Promise<{ code: number; reason: string }> {
    let buf: Uint8Array = initial;
    const rate = this.o.readBytesPerSecond;
    const started = performance.now();
    const chunk = new Uint8Array(rate ? Math.max(1024, Math.min(16384, rate / 20)) : 65536);
    try {
      while (true) {
        for (;;) {
          const f = parseFrame(buf);
          if (!f) break;
          buf = buf.subarray(f.size);
          if (f.opcode === 1) this.o.onText?.(dec.decode(f.payload));
          else if (f.opcode === 2) this.o.onBinary?.(f.payload);
          else if (f.opcode === 8) {
            const code = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
            this.close();
            return { code, reason: dec.decode(f.payload.subarray(2)) };
          } else if (f.opcode === 9) {
            const pong = maskedFrame(10, f.payload);
            this.#writing = this.#writing.then(() => this.#conn.write(pong)).catch(() => {});
          }
        }
        if (rate) {
          // Hold the average read rate at `rate`: the rest waits in the kernel's buffers.
          const due = started + (this.bytesRead / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        this.bytesRead += n;
        buf = concat(buf, chunk.subarray(0, n));
      }
    } catch { /* reset or closed by us */ }
    this.close();
    return { code: 1006, reason: "" };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfBlankLine(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function parseFrame(b: Uint8Array): { opcode: number; payload: Uint8Array; size: number } | null {
  if (b.length < 2) return null;
  let len = b[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (b.length < 4) return null;
    len = (b[2] << 8) | b[3];
    off = 4;
  } else if (len === 127) {
    if (b.length < 10) return null;
    len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
    off = 10;
  }
  if (b.length < off + len) return null;
  return { opcode: b[0] & 0x0f, payload: b.subarray(off, off + len), size: off + len };
}

/** One final client frame (masked, as every client frame must be). */
export function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + len);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  const v = new DataView(out.buffer);
  if (ext === 2) v.setUint16(2, len);
  if (ext === 8) v.setBigUint64(2, BigInt(len));
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2 + ext);
  for (let i = 0; i < len; i++) out[6 + ext + i] = payload[i] ^ mask[i & 3];
  return out;
}

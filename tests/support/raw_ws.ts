/**
 * A WebSocket client made by hand over a plain TCP connection, for tests that need what no
 * WebSocket API offers: reading at a chosen byte rate (a tablet on weak Wi-Fi), not reading at all
 * while writing (a stuck client), writing frames as fast as the socket takes them, and seeing the
 * exact close frame the server sends. Server frames are unmasked; ours are masked (RFC 6455).
 *
 * Two ways to read: pass `onText`/`onBinary` (a read loop runs from the start, optionally
 * throttled), or pass neither and call `readUntilClose()` when the test wants to look.
 */

export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
}

export interface RawClose {
  code: number;
  reason: string;
}

export interface RawWsOptions {
  /** Read at most this many bytes per second (default: as fast as they come). */
  readBytesPerSecond?: number;
  origin?: string;
  onText?(text: string): void;
  onBinary?(data: Uint8Array): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** One final, masked client frame. */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
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

export const textFrame = (text: string) => clientFrame(0x1, enc.encode(text));

export class RawWs {
  #conn: Deno.TcpConn;
  #pending: Uint8Array;
  #closed = false;
  #writing: Promise<unknown> = Promise.resolve();
  /** With handlers: resolves with the close code and reason (1006: the connection just ended). */
  readonly closed: Promise<RawClose>;
  bytesRead = 0;

  private constructor(conn: Deno.TcpConn, rest: Uint8Array, private o: RawWsOptions) {
    this.#conn = conn;
    this.#pending = rest;
    this.closed = o.onText || o.onBinary ? this.#readLoop() : new Promise(() => {});
  }

  /** Connects and upgrades; anything the server sent after its 101 is kept for reading. */
  static async connect(port: number, path: string, o: RawWsOptions = {}): Promise<RawWs> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await writeAll(
      conn,
      enc.encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (o.origin ? `Origin: ${o.origin}\r\n` : "") + "\r\n",
      ),
    );
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    while (true) {
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
      return new RawWs(conn, buf.slice(end + 4), o);
    }
  }

  /** Writes raw bytes (one or many frames) in order with other writes. */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const p = this.#writing.then(() => writeAll(this.#conn, bytes)).catch(() => {});
    this.#writing = p;
    return p.then(() => {});
  }

  sendText(text: string): Promise<void> {
    return this.send(textFrame(text));
  }

  /**
   * Reads frames until the server's close frame, the end of the connection or `timeoutMs`.
   * Returns everything read; `close` is null when no close frame came. (Without handlers only.)
   */
  async readUntilClose(timeoutMs = 5000): Promise<{ frames: RawFrame[]; close: RawClose | null }> {
    const frames: RawFrame[] = [];
    const buf = new Uint8Array(1 << 16);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let f; (f = this.#nextFrame());) {
        if (f.opcode === 0x8) return { frames, close: closeOf(f.payload) };
        frames.push(f);
      }
      const left = deadline - Date.now();
      if (left <= 0) return { frames, close: null };
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.#conn.read(buf).catch(() => null),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (n === null || n === "timeout") return { frames, close: null };
      this.#pending = concat(this.#pending, buf.subarray(0, n));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  #nextFrame(): RawFrame | null {
    const f = parseFrame(this.#pending);
    if (!f) return null;
    this.#pending = this.#pending.subarray(f.size);
    return f.frame;
  }

  async #readLoop(): Promise<RawClose> {
    const rate = this.o.readBytesPerSecond;
    const started = performance.now();
    const chunk = new Uint8Array(rate ? Math.max(1024, Math.min(16384, rate / 20)) : 65536);
    try {
      while (true) {
        for (let f; (f = this.#nextFrame());) {
          if (f.opcode === 1) this.o.onText?.(dec.decode(f.payload));
          else if (f.opcode === 2) this.o.onBinary?.(f.payload);
          else if (f.opcode === 8) {
            this.close();
            return closeOf(f.payload);
          } else if (f.opcode === 9) void this.send(clientFrame(10, f.payload));
        }
        if (rate) {
          // Hold the average read rate at `rate`: the rest waits in the kernel's buffers.
          const wait = started + (this.bytesRead / rate) * 1000 - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        this.bytesRead += n;
        this.#pending = concat(this.#pending, chunk.subarray(0, n));
      }
    } catch { /* reset, or closed by us */ }
    this.close();
    return { code: 1006, reason: "" };
  }
}

function closeOf(p: Uint8Array): RawClose {
  return { code: p.length >= 2 ? (p[0] << 8) | p[1] : 1005, reason: dec.decode(p.subarray(2)) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
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

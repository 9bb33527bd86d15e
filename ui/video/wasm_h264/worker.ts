/**
 * The WASM H.264 decoder's worker (bundled by ui/build.ts as /assets/wasm-h264-worker.js).
 *
 * tinyh264 (npm, Apache-2.0) is h264bsd compiled to WebAssembly: Baseline only (CAVLC, no
 * B-frames), one access unit in, one I420 picture out. Its own worker glue is not used: it
 * leaves output reordering on, copies every access unit into a fixed 1 MiB buffer (a big IDR
 * would overrun it) and ignores the SPS's cropping. This file drives the exported C functions:
 *  - the decoder is initialised with `noOutputReordering = 1`: smx's streams have no B-frames,
 *    so every access unit gives its picture at once. (x264's streams say so in the VUI, which
 *    h264bsd honours too; a stream without VUI bitstream_restriction and with POC type 0, e.g.
 *    from FFmpeg 5.1's NVENC, would otherwise be held back a DPB's worth, and the glue would read
 *    a picture through a NULL pointer meanwhile);
 *  - the input buffer grows to the largest access unit seen;
 *  - each picture is copied out of WASM memory into a fresh ArrayBuffer that is transferred to
 *    the page (the WASM heap is reused by the next decode), with the visible rectangle from the
 *    SPS (sps.ts);
 *  - after an error the decoder is rebuilt at the next keyframe (h264bsd would otherwise conceal
 *    missing references with garbage).
 *
 * The WASM binary is inlined in the bundle as base64. Emscripten first tries `fetch(data:…)`,
 * which smx's CSP (connect-src 'self') refuses with a console error; that fetch is answered here
 * with a rejection, so it decodes the base64 itself without a CSP violation. Compiling the module
 * still needs `'wasm-unsafe-eval'` in script-src: see ui/video/wasm_h264/decoder.ts.
 */
import TinyH264 from "tinyh264/es/TinyH264.js";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { baselineCompatible, nalUnits, parseSps, type SpsInfo } from "./sps.ts";

/** The Emscripten module of tinyh264 (build_wasm.sh exports exactly these). */
interface TinyModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _h264bsdAlloc(): number;
  _h264bsdInit(storage: number, noOutputReordering: number): number;
  _h264bsdDecode(
    storage: number,
    data: number,
    len: number,
    pPicture: number,
    pWidth: number,
    pHeight: number,
  ): number;
  _h264bsdShutdown(storage: number): void;
  _h264bsdFree(storage: number): void;
  getValue(ptr: number, type: "i32"): number;
}

const PIC_RDY = 1;
const RESULTS = [
  "ready",
  "picture ready",
  "headers ready",
  "error",
  "parameter set error",
  "out of memory",
];

interface WorkerScope {
  postMessage(message: FromWorker, options?: StructuredSerializeOptions): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  fetch: typeof fetch;
  close(): void;
}
const scope = self as unknown as WorkerScope;

let mod: TinyModule | null = null;
let storage = 0;
let out = 0; // 3 x i32: picture pointer, width, height
let input = 0, inputCap = 0;
let needKey = true;
let sps: SpsInfo | null = null;

function post(m: FromWorker, transfer?: Transferable[]): void {
  scope.postMessage(m, transfer ? { transfer } : undefined);
}

function openDecoder(m: TinyModule): void {
  storage = m._h264bsdAlloc();
  m._h264bsdInit(storage, 1);
}

function closeDecoder(m: TinyModule): void {
  if (!storage) return;
  m._h264bsdShutdown(storage);
  m._h264bsdFree(storage);
  storage = 0;
}

function decode(m: TinyModule, data: Uint8Array, keyframe: boolean, timestamp: number): void {
  if (keyframe) {
    const spsNal = nalUnits(data).find((n) => n.type === 7);
    const info = spsNal ? parseSps(spsNal.bytes) : null;
    if (info) {
      if (!baselineCompatible(info.profileIdc, info.constraints)) {
        needKey = true;
        const codec = [info.profileIdc, info.constraints, info.levelIdc]
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        return post({
          type: "error",
          timestamp,
          message: `H.264 profile ${info.profileIdc} (avc1.${codec}) is not Baseline: ` +
            "the WASM decoder has no CABAC; ask for a baseline rendition",
          unsupported: true,
        });
      }
      sps = info;
    }
    if (needKey) {
      closeDecoder(m); // a fresh decoder: nothing of a broken chain survives
      openDecoder(m);
      needKey = false;
    }
  } else if (needKey) {
    return post({
      type: "error",
      timestamp,
      message: "delta before a keyframe",
      unsupported: false,
    });
  }
  if (data.length > inputCap) {
    if (input) m._free(input);
    inputCap = Math.max(data.length, inputCap * 2, 256 * 1024);
    input = m._malloc(inputCap);
  }
  m.HEAPU8.set(data, input); // HEAPU8 is replaced when the heap grows: always read it anew
  const t0 = performance.now();
  const r = m._h264bsdDecode(storage, input, data.length, out, out + 4, out + 8);
  const t1 = performance.now();
  if (r !== PIC_RDY) {
    if (r >= 3) {
      needKey = true;
      return post({
        type: "error",
        timestamp,
        message: `h264bsd: ${RESULTS[r] ?? r}`,
        unsupported: false,
      });
    }
    return post({ type: "none", timestamp, decodeMs: t1 - t0 });
  }
  const pic = m.getValue(out, "i32") >>> 0;
  const codedWidth = m.getValue(out + 4, "i32");
  const codedHeight = m.getValue(out + 8, "i32");
  const size = (codedWidth * codedHeight * 3) / 2;
  const buffer = m.HEAPU8.slice(pic, pic + size).buffer;
  const t2 = performance.now();
  const visible = sps && sps.codedWidth === codedWidth && sps.codedHeight === codedHeight
    ? sps.visible
    : { x: 0, y: 0, width: codedWidth, height: codedHeight };
  post({
    type: "frame",
    timestamp,
    buffer,
    codedWidth,
    codedHeight,
    visible,
    decodeMs: t1 - t0,
    copyMs: t2 - t1,
  }, [buffer]);
}

const queued: ToWorker[] = [];

function handle(msg: ToWorker, m: TinyModule): void {
  switch (msg.type) {
    case "decode":
      try {
        decode(m, new Uint8Array(msg.data), msg.keyframe, msg.timestamp);
      } catch (e) {
        needKey = true; // a trap inside WASM (corrupt stream): rebuild at the next keyframe
        post({ type: "error", timestamp: msg.timestamp, message: String(e), unsupported: false });
      }
      break;
    case "reset":
      needKey = true;
      break;
    case "close":
      closeDecoder(m);
      scope.close();
      break;
  }
}

scope.onmessage = (e) => {
  if (mod) handle(e.data, mod);
  else queued.push(e.data); // the page may send before "ready"
};

const realFetch = scope.fetch?.bind(scope);
scope.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
  String(input instanceof Request ? input.url : input).startsWith("data:")
    ? Promise.reject(new TypeError("data: URLs are decoded in place, not fetched"))
    : realFetch(input, init);

(TinyH264() as Promise<TinyModule>).then((m) => {
  out = m._malloc(12);
  openDecoder(m);
  mod = m;
  post({ type: "ready" });
  for (const msg of queued.splice(0)) handle(msg, m);
}, (e: unknown) => {
  post({ type: "failed", message: e instanceof Error ? e.message : String(e) });
});

/**
 * How this page decodes video, chosen once by capability (like go2rtc's player, the page tries
 * the best path it has and falls back when one cannot run):
 *  - "webcodecs": VideoDecoder (secure contexts: loopback, HTTPS, Safari on a LAN page), H.264
 *    Main — the lowest latency and cost;
 *  - "wasm": H.264 Constrained Baseline through the WASM decoder in a worker, for pages where
 *    the browser hides WebCodecs (Chromium and Firefox on http://<LAN-IP>) but offers Worker,
 *    WebAssembly and VideoFrame; the default LAN path (docs/lan.md says why: measured);
 *  - "jpeg": one JPEG per frame through createImageBitmap: any browser, ~3-6x the bytes.
 * `?video=webcodecs|wasm|jpeg` in the page URL forces a path (tests, benchmarks, a user's
 * workaround) when the browser can run it.
 */
import type { VideoCodec } from "../../protocol/video.ts";
import { DecodePipeline } from "./decoder.ts";
import { JpegPipeline } from "./jpeg_pipeline.ts";
import type { FramePipeline, PipelineDeps } from "./pipeline.ts";
import { WasmPipeline } from "./wasm_h264/pipeline.ts";

export type VideoPath = "webcodecs" | "wasm" | "jpeg";

/** What smx is asked to encode for each path. */
export const PATH_CODEC: Record<VideoPath, VideoCodec> = {
  webcodecs: "h264",
  wasm: "h264-baseline",
  jpeg: "jpeg",
};

/** Best first. */
const ORDER: VideoPath[] = ["webcodecs", "wasm", "jpeg"];

export interface Capabilities {
  videoDecoder: boolean;
  wasmWorker: boolean;
  imageBitmap: boolean;
}

export function capabilities(g: typeof globalThis = globalThis): Capabilities {
  return {
    videoDecoder: typeof g.VideoDecoder === "function",
    wasmWorker: typeof g.WebAssembly === "object" && typeof g.Worker === "function" &&
      typeof g.VideoFrame === "function",
    imageBitmap: typeof g.createImageBitmap === "function",
  };
}

export function canRun(path: VideoPath, c: Capabilities): boolean {
  return path === "webcodecs" ? c.videoDecoder : path === "wasm" ? c.wasmWorker : c.imageBitmap;
}

/** The path for this page: the forced one if it can run, else the best that can. */
export function chooseVideoPath(c: Capabilities, forced?: string | null): VideoPath {
  const f = ORDER.find((p) => p === forced);
  if (f && canRun(f, c)) return f;
  return ORDER.find((p) => canRun(p, c)) ?? "jpeg";
}

/** The next path to try after `failed` could not run here (null: none left). */
export function fallbackAfter(failed: VideoPath, c: Capabilities): VideoPath | null {
  return ORDER.slice(ORDER.indexOf(failed) + 1).find((p) => canRun(p, c)) ?? null;
}

/** The path forced by the page URL (`?video=`), if any. */
export function forcedPath(search = globalThis.location?.search ?? ""): string | null {
  return new URLSearchParams(search).get("video");
}

export function createPipeline(path: VideoPath, deps: PipelineDeps): FramePipeline {
  switch (path) {
    case "webcodecs":
      return new DecodePipeline(deps);
    case "wasm":
      return new WasmPipeline(deps);
    case "jpeg":
      return new JpegPipeline(deps);
  }
}

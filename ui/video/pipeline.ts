/**
 * What a tile feeds its frames into, whatever decodes them: WebCodecs (decoder.ts), the WASM
 * H.264 decoder (wasm_h264/pipeline.ts) or the browser's JPEG decoder (jpeg_pipeline.ts). Each
 * hands decoded pictures to the tile's Presenter and keeps the tile's stats.
 */
import type { EncodedFrame, StreamInfo } from "../transport/types.ts";
import type { Presenter } from "./present.ts";
import type { TileStats } from "./stats.ts";

export interface FramePipeline {
  /** The sender (re)started the stream; its first frame is a keyframe. */
  info(i: StreamInfo): void;
  frame(f: EncodedFrame): void;
  close(): void;
}

export interface PipelineDeps {
  presenter: Presenter;
  stats: TileStats;
  /** Ask the sender for a keyframe (the pipeline rate-limits its own requests). */
  requestKeyframe(): void;
  /** The source's own rate (frame-number stride of a decimated stream). */
  sourceFps: number;
  /** This pipeline cannot run in this page at all (a worker or WASM refused): switch paths. */
  failed(reason: string): void;
}

/** Stream facts every pipeline shows in the tile's stats. */
export function noteStreamInfo(stats: TileStats, i: StreamInfo): void {
  stats.encoder = i.encoder;
  stats.codec = i.codec;
  stats.rendition = `${i.width}x${i.height}@${i.fps}`;
  stats.limited = i.limited
    ? `${i.limited.by} (asked ${i.limited.asked.width}x${i.limited.asked.height}@${i.limited.asked.fps})`
    : "";
}

/** Engine frames per stream frame: the step frame numbers advance by when nothing is lost. */
export function frameStride(sourceFps: number, streamFps: number): number {
  return Math.max(1, Math.round((sourceFps || streamFps) / Math.max(1, streamFps)));
}

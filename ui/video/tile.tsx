/**
 * One video tile: demand from its size and visibility, a decoder pipeline, the newest frame drawn
 * into a canvas placed by the letterbox math, pointer forwarding, and a stats overlay.
 * The hot path (frames) never touches Preact: only rare status changes re-render.
 */
import { type ReadonlySignal, useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { registerTile } from "../diag.ts";
import type { ParamSource, SourceInfo, VideoDemand, VideoSource } from "../transport/types.ts";
import type { FramePipeline } from "./pipeline.ts";
import {
  capabilities,
  chooseVideoPath,
  createPipeline,
  fallbackAfter,
  forcedPath,
  PATH_CODEC,
  type VideoPath,
} from "./paths.ts";
import { type BoxSize, DemandTracker } from "./demand.ts";
import { containRect, type Rect } from "./letterbox.ts";
import { PointerForwarder } from "./pointer.ts";
import { Presenter, type RendererKind } from "./present.ts";
import { TileStats } from "./stats.ts";
import { StatsOverlay } from "./stats_overlay.tsx";
import { VIDEO_REPORT_INTERVAL_MS } from "../../protocol/video.ts";

type TileStatus = "idle" | "waiting" | "playing" | "ended";

export interface TileProps {
  source: SourceInfo;
  video: VideoSource;
  params: ParamSource;
  renderer: RendererKind;
  showStats: ReadonlySignal<boolean>;
  /** Double-click on the title (the app toggles "this tile alone"). */
  onTitleDblClick?: () => void;
}

export function Tile(
  { source, video, params, renderer, showStats, onTitleDblClick }: TileProps,
) {
  const boxRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const statsRef = useRef<TileStats | null>(null);
  const status = useSignal<TileStatus>("idle");
  const detail = useSignal("");
  const srcRef = useRef(source);
  srcRef.current = source;

  useEffect(() => {
    const box = boxRef.current!;
    const canvas = canvasRef.current!;
    const stats = new TileStats();
    stats.source = source.id;
    statsRef.current = stats;
    const unregister = registerTile(stats);

    let boxSize: BoxSize = { cssWidth: 0, cssHeight: 0, width: 0, height: 0 };
    let pic = { w: source.width || 16, h: source.height || 9 };
    let rect: Rect = { x: 0, y: 0, w: 0, h: 0 };
    const place = () => {
      rect = containRect(boxSize.cssWidth, boxSize.cssHeight, pic.w, pic.h);
      const s = canvas.style;
      s.left = `${rect.x}px`;
      s.top = `${rect.y}px`;
      s.width = `${rect.w}px`;
      s.height = `${rect.h}px`;
    };

    const presenter = new Presenter(canvas, renderer, stats, (w, h) => {
      pic = { w, h };
      place();
    });
    const playing = () => (status.value = "playing");
    const waiting = () => {
      status.value = "waiting";
      presenter.onNextDraw(playing);
    };
    let sub: ReturnType<VideoSource["subscribe"]> | null = null;
    // The decode path is the page's (capability, ?video=); a path that cannot start here (a
    // worker or WebAssembly refused) hands over to the next one and the stream is re-asked in
    // that path's codec.
    const caps = capabilities();
    let path: VideoPath = chooseVideoPath(caps, forcedPath());
    let demanded: VideoDemand | null = null;
    const ask = (d: VideoDemand | null) => {
      demanded = d;
      sub?.setDemand(d && { ...d, codec: PATH_CODEC[path] });
    };
    const makePipeline = (): FramePipeline =>
      createPipeline(path, {
        presenter,
        stats,
        requestKeyframe: () => sub?.requestKeyframe(),
        sourceFps: source.fps,
        failed: (reason) => {
          const next = fallbackAfter(path, caps);
          console.warn(`smx video: the ${path} path cannot run here (${reason}); next: ${next}`);
          if (!next) {
            detail.value = `this browser cannot show video (${reason})`;
            status.value = "ended";
            return;
          }
          pipeline.close();
          path = next;
          pipeline = makePipeline();
          ask(demanded);
        },
      });
    let pipeline = makePipeline();
    sub = video.subscribe(source.id, {
      frame: (f) => pipeline.frame(f),
      info: (i) => {
        if (i.format !== PATH_CODEC[path]) return; // the previous path's answer, still in flight
        pipeline.info(i);
        if (status.peek() === "ended") waiting();
      },
      ended: (reason) => {
        detail.value = reason;
        status.value = "ended";
      },
    });

    // Tell the sender how playback keeps up, so it lowers the rate before frames queue here.
    const reporter = setInterval(() => {
      if (!sub || status.peek() !== "playing") return;
      const snap = stats.snapshot();
      sub.report({
        fps: snap.fps,
        decodeQueue: snap.decodeQueue,
        decodeMs: Number.isFinite(snap.decodeMs) ? snap.decodeMs : 0,
        drawMs: Number.isFinite(snap.drawMs) ? snap.drawMs : 0,
      });
    }, VIDEO_REPORT_INTERVAL_MS);

    const demand = new DemandTracker(box, () => srcRef.current, (d) => {
      ask(d);
      if (!d) status.value = "idle";
      else if (status.peek() === "idle") waiting();
    }, (b) => {
      boxSize = b;
      place();
    });

    const pointer = source.pointer
      ? new PointerForwarder(box, () => rect, source.pointer, params)
      : null;

    return () => {
      clearInterval(reporter);
      pointer?.close();
      demand.close();
      sub?.close();
      sub = null;
      pipeline.close();
      presenter.close();
      unregister();
      statsRef.current = null;
    };
  }, [source.id, source.width, source.height, source.fps, video, params, renderer]);

  const st = status.value;
  return (
    <div class="tile" data-testid="tile" data-source={source.id} data-status={st}>
      <div class="tile-head" title="Double-click: this output alone" onDblClick={onTitleDblClick}>
        <span class="tile-label">{source.label}</span>
        <span class="tile-size">{source.width}×{source.height}</span>
      </div>
      <div
        ref={boxRef}
        class={source.pointer ? "tile-box interactive" : "tile-box"}
        data-testid="tile-box"
      >
        <canvas ref={canvasRef} class="tile-canvas" data-testid="tile-canvas" />
        {st !== "playing" && (
          <div class="tile-status" data-testid="tile-status">
            {st === "ended"
              ? `stopped: ${detail.value}`
              : st === "idle"
              ? "paused (not visible)"
              : "waiting for video…"}
          </div>
        )}
        {showStats.value && <StatsOverlay stats={statsRef} />}
      </div>
    </div>
  );
}

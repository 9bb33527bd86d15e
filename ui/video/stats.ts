/**
 * Per-tile counters and recent samples. Written on the hot path as plain fields (no signals, no
 * allocation); read by the stats overlay a few times a second and by `window.__smx`.
 */
import { quantile, Ring } from "./ring.ts";

/** Wall-clock ms since the Unix epoch, on the same clock as the engine's capture stamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The network path's own figures for a source, when its VideoSource has any (the WAN reach's
 * LiveKit receiver: RTT, loss and jitter from getStats). Kept per source by the VideoSource
 * (setLinkStats), read into each tile's snapshot, so tiles and the seam stay as they are.
 */
export interface LinkStats {
  /** Which path carries the frames ("livekit"). */
  path: string;
  /** Round trip to the server, ms (NaN when unknown). */
  rttMs: number;
  /** RTP packets lost since the subscription started. */
  packetsLost: number;
  /** Interarrival jitter, ms. */
  jitterMs: number;
  /** What feeds the tile (the publisher's rendition, e.g. "smx/main@1280x720@30"). */
  feed: string;
}

const linkStats = new Map<string, LinkStats>();

/** Sets (or with null clears) the link figures shown for a source's tiles. */
export function setLinkStats(source: string, s: LinkStats | null): void {
  if (s) linkStats.set(source, s);
  else linkStats.delete(source);
}

export interface TileSnapshot {
  source: string;
  /** Drawn frames per second over the last second. */
  fps: number;
  framesReceived: number;
  framesDecoded: number;
  framesDrawn: number;
  /** Frames dropped before decode (queue too deep, waiting for a keyframe, gap). */
  droppedBeforeDecode: number;
  /** Decoded frames replaced by a newer one before they were drawn. */
  droppedUndrawn: number;
  keyframeRequests: number;
  decodeErrors: number;
  gaps: number;
  /** Engine frame number of the last drawn frame (-1 before the first). */
  lastFrame: number;
  /** Recent glass-to-glass samples in ms (capture stamp → drawn), oldest first. */
  g2g: number[];
  g2gP50: number;
  g2gP95: number;
  /** Recent arrival → decoded ms (median). */
  decodeMs: number;
  /** Recent decoded → draw start ms (median). */
  waitMs: number;
  /** Recent draw duration ms (median). */
  drawMs: number;
  /** Recent sender → arrival ms (median). */
  transferMs: number;
  /** Recent encode ms as reported by the sender (median). */
  encodeMs: number;
  /** Received video bits per second over the last second. */
  bitrate: number;
  decodeQueue: number;
  codedWidth: number;
  codedHeight: number;
  encoder: string;
  codec: string;
  /** How this page decodes: "webcodecs", "wasm" (H.264 Baseline in a worker) or "jpeg". */
  path: string;
  renderer: string;
  /** The rendition the sender gives ("1280x720@60"). */
  rendition: string;
  /** Why it is below the demand ("link (asked 1280x720@60)"); "" when it is not. */
  limited: string;
  /** The network path's figures (WAN reach), or null. */
  link: LinkStats | null;
}

export class TileStats {
  source = "";
  framesReceived = 0;
  framesDecoded = 0;
  framesDrawn = 0;
  droppedBeforeDecode = 0;
  droppedUndrawn = 0;
  keyframeRequests = 0;
  decodeErrors = 0;
  gaps = 0;
  lastFrame = -1;
  decodeQueue = 0;
  codedWidth = 0;
  codedHeight = 0;
  encoder = "";
  codec = "";
  path = "";
  renderer = "";
  rendition = "";
  limited = "";

  readonly g2g = new Ring(600);
  /** Decoded → draw started (waiting for the animation frame). */
  readonly wait = new Ring(120);
  /** Draw call duration (2d) or bitmap conversion + transfer (bitmap). */
  readonly draw = new Ring(120);
  readonly decode = new Ring(120);
  readonly transfer = new Ring(120);
  readonly encode = new Ring(120);
  readonly drawTimes = new Ring(240);
  readonly arrivalTimes = new Ring(240);
  readonly arrivalBytes = new Ring(240);

  received(atMs: number, bytes: number, sentUs: number, encodeMs: number): void {
    this.framesReceived++;
    this.arrivalTimes.push(atMs);
    this.arrivalBytes.push(bytes);
    this.transfer.push(atMs - sentUs / 1000);
    this.encode.push(encodeMs);
  }

  drawn(atMs: number, captureUs: number, frame: number): void {
    this.framesDrawn++;
    this.lastFrame = frame;
    this.drawTimes.push(atMs);
    this.g2g.push(atMs - captureUs / 1000);
  }

  snapshot(now = nowMs()): TileSnapshot {
    let drawnLastSecond = 0;
    for (let i = 0; i < this.drawTimes.length; i++) {
      if (now - this.drawTimes.recent(i) > 1000) break;
      drawnLastSecond++;
    }
    let bytesLastSecond = 0;
    for (let i = 0; i < this.arrivalTimes.length; i++) {
      if (now - this.arrivalTimes.recent(i) > 1000) break;
      bytesLastSecond += this.arrivalBytes.recent(i);
    }
    const g2g = this.g2g.toArray();
    const recentG2g = g2g.slice(-120);
    return {
      source: this.source,
      fps: drawnLastSecond,
      framesReceived: this.framesReceived,
      framesDecoded: this.framesDecoded,
      framesDrawn: this.framesDrawn,
      droppedBeforeDecode: this.droppedBeforeDecode,
      droppedUndrawn: this.droppedUndrawn,
      keyframeRequests: this.keyframeRequests,
      decodeErrors: this.decodeErrors,
      gaps: this.gaps,
      lastFrame: this.lastFrame,
      g2g,
      g2gP50: quantile(recentG2g, 0.5),
      g2gP95: quantile(recentG2g, 0.95),
      decodeMs: quantile(this.decode.toArray(), 0.5),
      transferMs: quantile(this.transfer.toArray(), 0.5),
      waitMs: quantile(this.wait.toArray(), 0.5),
      drawMs: quantile(this.draw.toArray(), 0.5),
      encodeMs: quantile(this.encode.toArray(), 0.5),
      bitrate: bytesLastSecond * 8,
      decodeQueue: this.decodeQueue,
      codedWidth: this.codedWidth,
      codedHeight: this.codedHeight,
      encoder: this.encoder,
      codec: this.codec,
      path: this.path,
      renderer: this.renderer,
      rendition: this.rendition,
      limited: this.limited,
      link: linkStats.has(this.source) ? { ...linkStats.get(this.source)! } : null,
    };
  }
}

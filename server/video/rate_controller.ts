/**
 * One viewer's place on its rendition ladder (see renditionLadder): moved down at once when the
 * link, the page's decoder or smx's encoder cannot keep up, and probed back up one step after a
 * quiet spell. A probe that brings trouble back soon doubles the next wait (up to a ceiling), so a
 * link that really is slow is not re-probed every few seconds; a long quiet spell resets it.
 *
 * Pure logic on an injected clock: the video client feeds it events and applies its answers.
 */
import type { Rendition } from "../../protocol/size_classes.ts";
import type { VideoLimit } from "../../protocol/video.ts";

export const PROBE_HOLD_MS = 3000;
export const PROBE_HOLD_MAX_MS = 30000;
/** Trouble within this long after a step up means the probe failed. */
const PROBE_FAIL_MS = 3000;
/** Steps down closer together than this wait: the last step has not shown its effect yet. */
const MIN_DOWN_GAP_MS = 500;
/**
 * A link step aims for this share of the measured delivery rate: a keyframe is several times a
 * normal frame and must cross the link well inside the viewer's delay bound.
 */
const LINK_SHARE = 0.35;

export type Trouble = Exclude<VideoLimit, "budget">;

export class RateController {
  #level = 0;
  #limit: Trouble | null = null;
  #hold = PROBE_HOLD_MS;
  #lastTroubleMs = -Infinity;
  #lastDownMs = -Infinity;
  #lastUpMs = -Infinity;

  /**
   * `pinned`: the viewer stays at the top of its ladder whatever happens (SMX_ADAPT=off); its
   * delay is still bounded, by skipping to keyframes, but never by a smaller rendition.
   */
  constructor(
    private ladder: Rendition[],
    private kbpsOf: (r: Rendition) => number,
    private readonly pinned = false,
  ) {}

  get rendition(): Rendition {
    return this.ladder[this.#level];
  }

  /** Why the viewer is below the top of its ladder (null: it gets what it asked for). */
  get limit(): Trouble | null {
    return this.#level === 0 ? null : this.#limit;
  }

  get level(): number {
    return this.#level;
  }

  /** A new demand (resize, new source size): a new ladder; keep the same distance from the top. */
  setLadder(ladder: Rendition[]): void {
    this.ladder = ladder;
    this.#level = Math.min(this.#level, ladder.length - 1);
  }

  /**
   * Something could not keep up. `deliveryKbps`: what the link delivered lately (link trouble).
   * Returns true when the viewer moved down a step (or more).
   */
  trouble(kind: Trouble, nowMs: number, deliveryKbps = 0): boolean {
    if (this.pinned) return false;
    if (nowMs - this.#lastUpMs < PROBE_FAIL_MS) {
      this.#hold = Math.min(PROBE_HOLD_MAX_MS, this.#hold * 2);
    }
    this.#lastTroubleMs = nowMs;
    if (nowMs - this.#lastDownMs < MIN_DOWN_GAP_MS) return false;
    const cur = this.rendition;
    let next = this.#level + 1;
    if (kind === "link" && deliveryKbps > 0) {
      // Straight to the first step that fits the link, not one step per round trip.
      while (
        next < this.ladder.length - 1 && this.kbpsOf(this.ladder[next]) > deliveryKbps * LINK_SHARE
      ) {
        next++;
      }
    } else if (kind !== "link") {
      // The decoder or the encoder is short of time per frame: fewer frames help most.
      const lowerFps = this.ladder.findIndex((r, i) => i > this.#level && r.fps < cur.fps);
      if (lowerFps > 0) next = lowerFps;
    }
    if (next >= this.ladder.length) return false; // already at the bottom
    this.#level = next;
    this.#limit = kind;
    this.#lastDownMs = nowMs;
    return true;
  }

  /** Called periodically; returns true when the viewer was moved up one step to probe. */
  tick(nowMs: number): boolean {
    if (this.#level === 0) return false;
    const quiet = nowMs - Math.max(this.#lastTroubleMs, this.#lastUpMs, this.#lastDownMs);
    if (quiet < this.#hold) return false;
    if (quiet > PROBE_HOLD_MAX_MS * 2) this.#hold = PROBE_HOLD_MS;
    this.#level--;
    this.#lastUpMs = nowMs;
    return true;
  }
}

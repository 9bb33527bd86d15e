/**
 * smx's WHIP publisher: what remote pages want (setWanted, fed by the relay from their demand)
 * becomes one WHIP session per rendition into the engine's LiveKit room, participant identity
 * `publisherIdentity(r)` (protocol/wan.ts), so a page finds the track it asked for by name.
 *
 * A rendition that leaves the wanted list keeps publishing for `unpublishAfterMs` (default
 * UNPUBLISH_AFTER_MS): pages re-announce their demand every few seconds, a tile that resizes or
 * a page that reloads asks again at once, and tearing down and re-creating a WHIP session (and
 * its viewers' decoders) for that would be a visible gap. After that it is DELETEd.
 *
 * The ICE servers LiveKit names in its answers are kept here and shared by every rendition, so
 * only the very first session runs without them (see whip_session.ts for why they cannot be had
 * earlier).
 */
import type { EncodeSessionManager } from "../../../encoder/manager.ts";
import {
  type PublishedRendition,
  publisherIdentity,
  UNPUBLISH_AFTER_MS,
} from "../../../protocol/wan.ts";
import { livekitHttpBase } from "./livekit_url.ts";
import { type IceServer, iceServersKey } from "./link_header.ts";
import { RenditionPublisher, type RenditionStats } from "./rendition_publisher.ts";
import type { IceOptions } from "./whip_session.ts";

/** close() gives the DELETEs this long in all. */
export const CLOSE_TIMEOUT_MS = 2000;

export type PublisherLog = (level: "debug" | "info" | "warn", msg: string) => void;

export interface WanPublisherOptions {
  engine: string;
  livekit: { url: string; apiKey: string; apiSecret: string };
  sessions: EncodeSessionManager;
  unpublishAfterMs?: number;
  log?: PublisherLog;
  /**
   * Where ICE may run (default: every local address, IPv4 and IPv6). Tests pin it to loopback.
   * Not needed in production.
   */
  ice?: IceOptions;
}

interface Entry {
  rendition: PublishedRendition;
  publisher: RenditionPublisher;
  unpublishTimer?: ReturnType<typeof setTimeout>;
}

export class WanPublisher {
  readonly #o: WanPublisherOptions;
  readonly #base: string;
  readonly #log: PublisherLog;
  readonly #entries = new Map<string, Entry>();
  /** Publishers being stopped (unpublished), so close() can wait for their DELETEs too. */
  readonly #stopping = new Set<Promise<void>>();
  #iceServers: IceServer[] = [];
  #closed = false;

  constructor(opts: WanPublisherOptions) {
    this.#o = opts;
    this.#base = livekitHttpBase(opts.livekit.url);
    this.#log = opts.log ?? (() => {});
  }

  /** What remote pages want now; renditions not in it are unpublished after unpublishAfterMs. */
  setWanted(list: PublishedRendition[]): void {
    if (this.#closed) return;
    const wanted = new Map(list.map((r) => [publisherIdentity(r), r]));
    for (const [identity, r] of wanted) {
      const e = this.#entries.get(identity);
      if (e) {
        if (e.unpublishTimer !== undefined) {
          clearTimeout(e.unpublishTimer);
          e.unpublishTimer = undefined;
          this.#log("debug", `${identity}: wanted again, stays published`);
        }
        continue;
      }
      this.#log("info", `${identity}: publishing to LiveKit`);
      this.#entries.set(identity, { rendition: r, publisher: this.#start(r) });
    }
    const after = this.#o.unpublishAfterMs ?? UNPUBLISH_AFTER_MS;
    for (const [identity, e] of this.#entries) {
      if (wanted.has(identity) || e.unpublishTimer !== undefined) continue;
      e.unpublishTimer = setTimeout(() => this.#unpublish(identity), after);
    }
  }

  /** A page asked for an IDR of the rendition named by `identity` (rate-limited). */
  requestKeyframe(identity: string): void {
    this.#entries.get(identity)?.publisher.requestKeyframe();
  }

  stats(): RenditionStats[] {
    return [...this.#entries.values()].map((e) => e.publisher.stats());
  }

  /** DELETEs every session; resolves within about CLOSE_TIMEOUT_MS whatever the server does. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [identity, e] of this.#entries) {
      clearTimeout(e.unpublishTimer);
      this.#trackStop(e.publisher.stop(CLOSE_TIMEOUT_MS - 200));
      this.#entries.delete(identity);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...this.#stopping]),
      new Promise<void>((r) => timer = setTimeout(r, CLOSE_TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
  }

  #start(r: PublishedRendition): RenditionPublisher {
    return new RenditionPublisher({
      engine: this.#o.engine,
      rendition: r,
      base: this.#base,
      keys: { apiKey: this.#o.livekit.apiKey, apiSecret: this.#o.livekit.apiSecret },
      sessions: this.#o.sessions,
      iceServers: () => this.#iceServers,
      learnIceServers: (servers) => {
        if (iceServersKey(servers) === iceServersKey(this.#iceServers)) return;
        this.#iceServers = servers;
        this.#log("info", `LiveKit names ICE servers: ${servers.map((s) => s.urls).join(", ")}`);
      },
      ice: this.#o.ice,
      log: this.#log,
    });
  }

  #unpublish(identity: string): void {
    const e = this.#entries.get(identity);
    if (!e) return;
    this.#entries.delete(identity);
    this.#log("info", `${identity}: no longer wanted, unpublished`);
    this.#trackStop(e.publisher.stop());
  }

  #trackStop(p: Promise<void>): void {
    const q = p.catch(() => {}).finally(() => this.#stopping.delete(q));
    this.#stopping.add(q);
  }
}

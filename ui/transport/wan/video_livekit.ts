/**
 * VideoSource over LiveKit (the WAN reach). smx publishes each rendition someone demands as one
 * WHIP participant in the engine's room, named `publisherIdentity(rendition)`; this page:
 *  - joins the room with its subscribe-only token: autoSubscribe off (it picks tracks itself),
 *    adaptiveStream off (the tile, not LiveKit, decides what is wanted), dynacast off;
 *  - publishes its whole demand on smx_ctl (demand.ts) on change and every DEMAND_HEARTBEAT_MS;
 *  - subscribes each tile to the participant of its wanted rendition when it is in the room, and
 *    meanwhile to another rendition of the same source (switching over at the wanted one's first
 *    keyframe, so the picture never goes blank);
 *  - takes the encoded frames off the track's RTCRtpReceiver with an RTCRtpScriptTransform (a
 *    worker: receive_transform_worker.ts; createEncodedStreams where that is missing) and hands
 *    them to the tile's sink as EncodedFrames (timing from smx's SEI), so the tile's own
 *    WebCodecs / WASM pipeline, presenter, stamps and stats work as on the local reach;
 *  - asks for a keyframe by publishing `{type:"keyframe", identity}` on smx_ctl (rate-limited).
 * WebRTC's own decoder also gets the frames (TransformOptions.passThrough says why); its picture
 * is never attached to anything.
 */
import { computed, type ReadonlySignal, signal } from "@preact/signals";
import {
  ConnectionState as LkState,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  Room,
  RoomEvent,
  Track,
} from "livekit-client";
import {
  DEMAND_HEARTBEAT_MS,
  type JoinTokens,
  parsePublisherIdentity,
  type PublishedRendition,
  type TileDemand,
  WAN_WIRE_VERSION,
} from "../../../protocol/wan.ts";
import { setLinkStats } from "../../video/stats.ts";
import type {
  ConnectionState,
  SourceInfo,
  StreamInfo,
  VideoCodec,
  VideoDemand,
  VideoSink,
  VideoSource,
  VideoSubscription,
} from "../types.ts";
import { chooseIdentity, pageDemand, sameDemand, wantedRendition, wireDemand } from "./demand.ts";
import type { StreamFormat } from "./encoded.ts";
import type { CtlLink } from "./params_centrifuge.ts";
import { mark } from "./marks.ts";
import {
  type FromWorker,
  type ToWorker,
  type TransformOptions,
  WAN_RECEIVE_WORKER_URL,
} from "./receive_protocol.ts";

/** At most one keyframe request per rendition this often (smx paces IDRs too). */
export const KEYFRAME_REQUEST_MS = 500;
/** A rendition no tile uses any more is unsubscribed after this (a quick re-show reuses it). */
export const FEED_LINGER_MS = 3000;
/** Receiver statistics for the overlay, this often. */
export const STATS_MS = 1000;

/** What the WAN path delivers: H.264 Constrained Baseline (what LiveKit accepts out of the box). */
const WAN_FORMAT: VideoCodec = "h264-baseline";

interface Feed {
  id: number;
  identity: string;
  rendition: PublishedRendition;
  publication: RemoteTrackPublication | null;
  receiver: RTCRtpReceiver | null;
  /** Tiles fed by it, and tiles waiting to switch to it at its next keyframe. */
  sinks: Set<TileSub>;
  format: StreamFormat | null;
  lastKeyRequest: number;
  lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames seen (for a made-up frame number when a publisher sends no timing SEI). */
  count: number;
  /** The worker took the receiver's frames over (diagnostics). */
  started: string;
  /** The receiver's last inbound-rtp figures (diagnostics). */
  rtp: Record<string, unknown> | null;
}

interface TileSub {
  source: string;
  sink: VideoSink;
  demand: VideoDemand | null;
  wire: TileDemand | null;
  /** The feed whose frames it gets now. */
  feed: Feed | null;
  /** The feed it switches to at that feed's next keyframe. */
  next: Feed | null;
  /** The format last announced to the sink with info() (re-announced when it changes). */
  announced: string;
  closed: boolean;
}

export interface LiveKitVideoOptions {
  join: JoinTokens;
  link: CtlLink;
  /** A fresh join when the room must be joined again (the old token may have expired). */
  rejoin(): Promise<JoinTokens>;
  workerUrl?: string;
}

/** Which encoded-frame API this browser gives a receiver (null: none). */
export function encodedFrameApi(
  g: typeof globalThis = globalThis,
): "script-transform" | "encoded-streams" | null {
  if (typeof (g as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform === "function") {
    return "script-transform";
  }
  const R = (g as { RTCRtpReceiver?: { prototype: object } }).RTCRtpReceiver;
  if (R && "createEncodedStreams" in R.prototype) return "encoded-streams";
  return null;
}

/** Why this browser cannot receive smx's H.264 over WebRTC, or null when it can. */
export function h264Problem(g: typeof globalThis = globalThis): string | null {
  const R = (g as { RTCRtpReceiver?: { getCapabilities?(k: string): RTCRtpCapabilities | null } })
    .RTCRtpReceiver;
  if (!R) return "this browser has no WebRTC";
  const caps = R.getCapabilities?.("video");
  if (!caps) return null; // cannot tell: try
  if (caps.codecs.some((c) => c.mimeType.toLowerCase() === "video/h264")) return null;
  return "this browser cannot receive H.264 over WebRTC (Firefox: enable the OpenH264 plugin " +
    "in Add-ons → Plugins)";
}

export class LiveKitVideoSource implements VideoSource {
  readonly #state = signal<ConnectionState>("connecting");
  readonly sources: ReadonlySignal<readonly SourceInfo[]>;
  readonly #subs = new Set<TileSub>();
  readonly #feeds = new Map<string, Feed>();
  readonly #byId = new Map<number, Feed>();
  readonly #api = encodedFrameApi();
  readonly #h264 = h264Problem();
  #room: Room;
  #worker: Worker | null = null;
  #nextFeed = 1;
  #lastDemand: TileDemand[] = [];
  #demandQueued = false;
  #heartbeat: ReturnType<typeof setInterval>;
  #statsTimer: ReturnType<typeof setInterval>;
  #rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  #rejoins = 0;
  #everOpen = false;
  #closed = false;
  readonly #unwatch: () => void;

  constructor(private opts: LiveKitVideoOptions) {
    this.sources = opts.link.sources;
    // The receive worker loads while the room connects (not at the first track).
    if (this.#api && !this.#h264) this.#workerOrNull();
    this.#room = this.#makeRoom();
    void this.#connect(opts.join);
    this.#heartbeat = setInterval(() => this.#publishDemand(true), DEMAND_HEARTBEAT_MS);
    this.#statsTimer = setInterval(() => void this.#collectStats(), STATS_MS);
    // Publish the demand as soon as smx_ctl is usable, and re-pick feeds when sources change.
    const ready = computed(() => opts.link.ctlReady.value);
    let wasReady = false;
    const stopReady = ready.subscribe((r) => {
      if (r && !wasReady) this.#publishDemand(true);
      wasReady = r;
    });
    const stopSources = this.sources.subscribe(() => {
      for (const s of this.#subs) s.wire = s.demand ? wireDemand(s.source, s.demand) : null;
      this.#queueDemand();
      this.#reconcile();
    });
    this.#unwatch = () => {
      stopReady();
      stopSources();
    };
  }

  get state(): ReadonlySignal<ConnectionState> {
    return this.#state;
  }

  /** Plain diagnostics (window.__smxWan.video()): room, participants, feeds and tiles. */
  diagnostics() {
    return {
      api: this.#api,
      room: this.#room.state,
      participants: [...this.#room.remoteParticipants.values()].map((p) => ({
        identity: p.identity,
        video: [...p.videoTrackPublications.values()].map((v) => ({
          sid: v.trackSid,
          subscribed: v.isSubscribed,
        })),
      })),
      feeds: [...this.#feeds.values()].map((f) => ({
        identity: f.identity,
        receiver: !!f.receiver,
        frames: f.count,
        started: f.started,
        rtp: f.rtp,
        format: f.format,
        sinks: f.sinks.size,
      })),
      tiles: [...this.#subs].map((s) => ({
        source: s.source,
        demand: s.wire,
        feed: s.feed?.identity ?? null,
        next: s.next?.identity ?? null,
        announced: s.announced,
      })),
      demand: this.#lastDemand,
    };
  }

  subscribe(source: string, sink: VideoSink): VideoSubscription {
    const s: TileSub = {
      source,
      sink,
      demand: null,
      wire: null,
      feed: null,
      next: null,
      announced: "",
      closed: false,
    };
    this.#subs.add(s);
    const cannot = this.#h264 ?? (this.#api ? null : "this browser cannot hand encoded video " +
      "frames to the page (no RTCRtpScriptTransform)");
    return {
      setDemand: (d) => {
        if (s.closed) return;
        const why = cannot ??
          (d?.codec === "jpeg"
            ? "the WAN reach sends H.264 only, and this page decodes neither WebCodecs nor WASM H.264"
            : null);
        if (why) {
          if (d) queueMicrotask(() => sink.ended?.(why));
          return;
        }
        s.demand = d ? { ...d } : null;
        s.wire = d ? wireDemand(source, d) : null;
        if (!d) this.#detach(s);
        this.#queueDemand();
        this.#reconcile();
      },
      requestKeyframe: () => {
        const f = s.next ?? s.feed;
        if (f) this.#askKeyframe(f);
      },
      // Nothing to report on WAN: smx encodes one rendition for every viewer of it and LiveKit
      // gives a WHIP publisher no per-viewer feedback path; a page that cannot keep up already
      // skips ahead (decoder.ts) and its demand names what it can show.
      report: () => {},
      close: () => {
        s.closed = true;
        this.#detach(s);
        this.#subs.delete(s);
        this.#queueDemand();
      },
    };
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#statsTimer);
    clearTimeout(this.#rejoinTimer);
    this.#unwatch();
    this.opts.link.publishCtl({ v: WAN_WIRE_VERSION, type: "demand", tiles: [] });
    for (const f of this.#feeds.values()) this.#dropFeed(f);
    void this.#room.disconnect();
    this.#worker?.terminate();
  }

  // ------------------------------------------------------------------ room

  #makeRoom(): Room {
    const room = new Room({ adaptiveStream: false, dynacast: false });
    const changed = () => this.#reconcile();
    room
      .on(RoomEvent.ParticipantConnected, changed)
      .on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => this.#gone(p.identity))
      .on(RoomEvent.TrackPublished, changed)
      .on(RoomEvent.TrackUnpublished, (_pub, p: RemoteParticipant) => this.#gone(p.identity))
      .on(
        RoomEvent.TrackSubscribed,
        (track: RemoteTrack, pub: RemoteTrackPublication, p: RemoteParticipant) =>
          this.#onTrack(track, pub, p),
      )
      .on(RoomEvent.TrackUnsubscribed, (_t, _pub, p: RemoteParticipant) => {
        const f = this.#feeds.get(p.identity);
        if (f) f.receiver = null;
      })
      .on(RoomEvent.ConnectionStateChanged, (st: LkState) => this.#onRoomState(st));
    return room;
  }

  async #connect(join: JoinTokens): Promise<void> {
    const rtcConfig: RTCConfiguration & { encodedInsertableStreams?: boolean } = {};
    // Chromium hands a receiver's frames to a transform set after the track was negotiated (which
    // is when LiveKit lets us see it) only on a connection made with this member; without it the
    // frames bypassed the RTCRtpScriptTransform (measured: Chromium 156, WebRTC decoded 639
    // frames, the worker saw none). createEncodedStreams needs it too. Other engines ignore it.
    if (this.#api) rtcConfig.encodedInsertableStreams = true;
    mark("room-start");
    try {
      await this.#room.connect(join.livekit.url, join.livekit.token, {
        autoSubscribe: false,
        rtcConfig,
      });
      this.#rejoins = 0;
      this.#reconcile();
    } catch (e) {
      console.warn("smx wan: joining the room failed:", (e as Error)?.message ?? e);
      this.#scheduleRejoin();
    }
  }

  #onRoomState(st: LkState): void {
    if (this.#closed) return;
    let next: ConnectionState;
    if (st === LkState.Connected) {
      if (!this.#everOpen) mark("room-connected");
      next = "open";
      this.#everOpen = true;
    } else if (st === LkState.Connecting) next = this.#everOpen ? "reconnecting" : "connecting";
    else next = this.#everOpen ? "reconnecting" : "connecting";
    if (this.#state.peek() !== next) this.#state.value = next;
    if (st === LkState.Disconnected) {
      for (const f of [...this.#feeds.values()]) this.#gone(f.identity);
      this.#scheduleRejoin();
    }
  }

  /** LiveKit gave up reconnecting (or never got in): join again with fresh tokens. */
  #scheduleRejoin(): void {
    if (this.#closed || this.#rejoinTimer) return;
    const delay = Math.min(10_000, 500 * 2 ** Math.min(this.#rejoins++, 5)) *
      (0.8 + Math.random() * 0.4);
    this.#rejoinTimer = setTimeout(async () => {
      this.#rejoinTimer = undefined;
      if (this.#closed || this.#room.state !== LkState.Disconnected) return;
      try {
        const join = await this.opts.rejoin();
        this.#room.removeAllListeners();
        this.#room = this.#makeRoom();
        await this.#connect(join);
      } catch (e) {
        console.warn("smx wan: rejoin failed:", (e as Error)?.message ?? e);
        this.#scheduleRejoin();
      }
    }, delay);
  }

  /** Identities of smx publishers with a video track in the room now. */
  #present(): Map<string, RemoteTrackPublication> {
    const out = new Map<string, RemoteTrackPublication>();
    for (const p of this.#room.remoteParticipants.values()) {
      if (!parsePublisherIdentity(p.identity)) continue;
      for (const pub of p.videoTrackPublications.values()) {
        if (pub.kind === Track.Kind.Video) {
          out.set(p.identity, pub);
          break;
        }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ demand

  #queueDemand(): void {
    if (this.#demandQueued) return;
    this.#demandQueued = true;
    queueMicrotask(() => {
      this.#demandQueued = false;
      this.#publishDemand(false);
    });
  }

  #publishDemand(heartbeat: boolean): void {
    if (this.#closed) return;
    const sources = new Set(this.sources.peek().map((s) => s.id));
    const tiles = pageDemand(
      [...this.#subs].map((s) => s.wire && sources.has(s.source) ? s.wire : null),
    );
    const changed = !sameDemand(tiles, this.#lastDemand);
    if (!changed && (!heartbeat || tiles.length === 0)) return;
    if (this.opts.link.publishCtl({ v: WAN_WIRE_VERSION, type: "demand", tiles })) {
      if (this.#lastDemand.length === 0 && tiles.length > 0) mark("demand");
      this.#lastDemand = tiles;
    }
  }

  // ------------------------------------------------------------------ feeds

  /** Points every tile at the best participant in the room for its demand. */
  #reconcile(): void {
    if (this.#closed) return;
    const present = this.#present();
    const srcs = new Map(this.sources.peek().map((s) => [s.id, s]));
    for (const s of this.#subs) {
      if (!s.wire) continue;
      const want = wantedRendition(s.wire, srcs.get(s.source));
      if (!want) continue;
      const id = chooseIdentity(want, present.keys());
      if (!id) continue;
      if (s.feed?.identity === id) {
        if (s.next) this.#unlink(s, s.next, "next");
        continue;
      }
      if (s.next?.identity === id) continue;
      const feed = this.#feed(id, present.get(id)!);
      if (!feed) continue;
      if (s.next) this.#unlink(s, s.next, "next");
      if (!s.feed) {
        s.feed = feed; // nothing on screen yet: take its frames from its next keyframe
        s.announced = "";
      } else s.next = feed; // switch at its first keyframe
      feed.sinks.add(s);
      clearTimeout(feed.lingerTimer);
      feed.lingerTimer = undefined;
      this.#askKeyframe(feed);
    }
  }

  #feed(identity: string, pub: RemoteTrackPublication): Feed | null {
    let f = this.#feeds.get(identity);
    if (f) return f;
    const rendition = parsePublisherIdentity(identity);
    if (!rendition) return null;
    f = {
      id: this.#nextFeed++,
      identity,
      rendition,
      publication: pub,
      receiver: null,
      sinks: new Set(),
      format: null,
      lastKeyRequest: 0,
      lingerTimer: undefined,
      count: 0,
      started: "",
      rtp: null,
    };
    this.#feeds.set(identity, f);
    this.#byId.set(f.id, f);
    pub.setSubscribed(true);
    if (pub.track) this.#attach(f, pub.track as RemoteTrack);
    return f;
  }

  #onTrack(track: RemoteTrack, pub: RemoteTrackPublication, p: RemoteParticipant): void {
    if (track.kind !== Track.Kind.Video) return;
    const f = this.#feeds.get(p.identity);
    if (!f) {
      pub.setSubscribed(false); // subscribed by someone else's doing: not ours
      return;
    }
    f.publication = pub;
    mark(`track:${f.identity}`);
    this.#attach(f, track);
  }

  #attach(f: Feed, track: RemoteTrack): void {
    const receiver = track.receiver;
    if (!receiver || f.receiver === receiver) return;
    if (f.count > 0) {
      // A new receiver for a feed that played (LiveKit resubscribed after a reconnect): nothing
      // decodes before its next SPS + IDR.
      f.format = null;
      for (const s of f.sinks) if (s.feed === f) s.announced = "";
      f.lastKeyRequest = 0;
      this.#askKeyframe(f);
    }
    f.receiver = receiver;
    // WebRTC's own picture (never shown) with no added smoothing; our frames come before it.
    try {
      (receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null }).jitterBufferTarget = 0;
    } catch { /* older browsers: playoutDelayHint */ }
    const options: TransformOptions = { feed: f.id, passThrough: true };
    const worker = this.#workerOrNull();
    if (!worker) return this.#failFeed(f, "this page cannot start the video worker");
    try {
      if (this.#api === "script-transform") {
        const T = (globalThis as unknown as {
          RTCRtpScriptTransform: new (w: Worker, o: unknown) => unknown;
        }).RTCRtpScriptTransform;
        (receiver as unknown as { transform: unknown }).transform = new T(worker, options);
      } else if (this.#api === "encoded-streams") {
        const { readable, writable } = (receiver as unknown as {
          createEncodedStreams(): { readable: ReadableStream; writable: WritableStream };
        }).createEncodedStreams();
        const m: ToWorker = { type: "streams", options, readable, writable };
        worker.postMessage(m, [
          readable as unknown as Transferable,
          writable as unknown as Transferable,
        ]);
      } else {
        return this.#failFeed(f, "this browser cannot hand encoded video frames to the page");
      }
    } catch (e) {
      this.#failFeed(f, `encoded frames unavailable: ${(e as Error)?.message ?? e}`);
    }
  }

  #workerOrNull(): Worker | null {
    if (this.#worker) return this.#worker;
    try {
      const w = new Worker(this.opts.workerUrl ?? WAN_RECEIVE_WORKER_URL, { type: "module" });
      w.onmessage = (ev: MessageEvent<FromWorker>) => this.#onWorker(ev.data);
      w.onerror = (ev) => console.warn("smx wan: receive worker:", ev.message);
      this.#worker = w;
    } catch (e) {
      console.warn("smx wan: no receive worker:", (e as Error)?.message ?? e);
    }
    return this.#worker;
  }

  #failFeed(f: Feed, why: string): void {
    console.warn(`smx wan: ${f.identity}: ${why}`);
    for (const s of f.sinks) s.sink.ended?.(why);
  }

  /** A publisher left or stopped: tiles fall back to another rendition, or wait. */
  #gone(identity: string): void {
    const f = this.#feeds.get(identity);
    if (f) {
      for (const s of [...f.sinks]) {
        if (s.feed === f) {
          s.feed = null;
          s.announced = "";
          if (s.next) {
            s.feed = s.next; // the one it was switching to takes over (at its keyframe)
            s.next = null;
          }
        } else if (s.next === f) s.next = null;
      }
      f.sinks.clear();
      this.#dropFeed(f);
    }
    this.#reconcile();
    for (const s of this.#subs) {
      if (s.wire && !s.feed) s.sink.ended?.("waiting for the engine's video");
    }
  }

  #unlink(s: TileSub, f: Feed, which: "feed" | "next"): void {
    if (which === "feed") {
      if (s.feed === f) s.feed = null;
    } else if (s.next === f) s.next = null;
    if (s.feed !== f && s.next !== f) f.sinks.delete(s);
    if (f.sinks.size === 0 && !f.lingerTimer) {
      f.lingerTimer = setTimeout(() => {
        f.lingerTimer = undefined;
        if (f.sinks.size === 0) this.#dropFeed(f);
      }, FEED_LINGER_MS);
    }
  }

  #detach(s: TileSub): void {
    if (s.feed) this.#unlink(s, s.feed, "feed");
    if (s.next) this.#unlink(s, s.next, "next");
    s.announced = "";
    setLinkStats(s.source, null);
  }

  #dropFeed(f: Feed): void {
    clearTimeout(f.lingerTimer);
    if (this.#feeds.get(f.identity) === f) this.#feeds.delete(f.identity);
    this.#byId.delete(f.id);
    const m: ToWorker = { type: "close", feed: f.id };
    this.#worker?.postMessage(m);
    try {
      f.publication?.setSubscribed(false);
    } catch { /* the participant is gone */ }
    f.receiver = null;
  }

  #askKeyframe(f: Feed): void {
    const t = performance.now();
    if (t - f.lastKeyRequest < KEYFRAME_REQUEST_MS) return;
    f.lastKeyRequest = t;
    this.opts.link.publishCtl({ v: WAN_WIRE_VERSION, type: "keyframe", identity: f.identity });
  }

  // ------------------------------------------------------------------ frames

  #onWorker(m: FromWorker): void {
    const f = this.#byId.get(m.feed);
    if (!f) return;
    if (m.type === "error") {
      console.warn(`smx wan: ${f.identity}: ${m.message}`);
      return;
    }
    if (m.type === "started") {
      f.started = m.via;
      return;
    }
    if (m.format) f.format = m.format;
    if (f.count++ === 0) mark(`first-frame:${f.identity}`);
    const fmt = f.format;
    const t = m.timing;
    const receivedMs = m.atMs;
    const data = new Uint8Array(m.data);
    for (const s of f.sinks) {
      if (s.next === f) {
        if (!m.keyframe || !fmt) continue;
        // The wanted rendition's first keyframe: switch over.
        const old = s.feed;
        s.feed = f;
        s.next = null;
        s.announced = "";
        if (old && old !== f) this.#unlink(s, old, "feed");
      }
      if (s.feed !== f) continue;
      if (!fmt) {
        this.#askKeyframe(f); // joined mid-stream: nothing decodable before an SPS + IDR
        continue;
      }
      const key = `${f.identity}|${fmt.codec}|${fmt.width}x${fmt.height}`;
      if (s.announced !== key) {
        if (!m.keyframe) {
          this.#askKeyframe(f);
          continue;
        }
        s.announced = key;
        mark(`first-keyframe:${f.identity}`);
        s.sink.info(this.#info(s, f, fmt));
      }
      s.sink.frame({
        keyframe: m.keyframe,
        frame: t ? t.frame : f.count,
        captureUs: t ? t.captureUs : receivedMs * 1000,
        sentUs: t ? t.sentUs : receivedMs * 1000,
        width: fmt.width,
        height: fmt.height,
        encodeMs: t ? t.encodeMs : 0,
        receivedMs,
        data,
      });
    }
  }

  #info(s: TileSub, f: Feed, fmt: StreamFormat): StreamInfo {
    // The bytes are Constrained Baseline, which every H.264 path decodes: answer in the codec the
    // tile asked for when it is an H.264 one (the tile ignores an info in another format).
    const asked = s.demand?.codec;
    const format: VideoCodec = asked === "h264" || asked === "h264-baseline" ? asked : WAN_FORMAT;
    const r = f.rendition;
    return {
      source: s.source,
      width: fmt.width,
      height: fmt.height,
      fps: r.fps,
      encoder: "smx via LiveKit",
      format,
      codec: fmt.codec,
    };
  }

  async #collectStats(): Promise<void> {
    for (const f of this.#feeds.values()) {
      const rec = f.receiver;
      if (!rec || f.sinks.size === 0) continue;
      let report: RTCStatsReport;
      try {
        report = await rec.getStats();
      } catch {
        continue;
      }
      const figures = readReceiverStats(report);
      report.forEach((v) => {
        const r = v as Record<string, unknown>;
        if (r.type !== "inbound-rtp") return;
        f.rtp = {};
        for (
          const k of [
            "packetsReceived",
            "framesReceived",
            "framesDecoded",
            "keyFramesDecoded",
            "framesDropped",
            "frameWidth",
            "frameHeight",
            "pliCount",
            "nackCount",
            "decoderImplementation",
          ]
        ) if (k in r) f.rtp[k] = r[k];
      });
      for (const s of f.sinks) {
        if (s.feed === f) setLinkStats(s.source, { path: "livekit", feed: f.identity, ...figures });
      }
    }
  }
}

/** RTT, loss and jitter of a receiver's stats report (NaN / 0 where it says nothing). */
export function readReceiverStats(
  report: Iterable<[string, unknown]> | { forEach(fn: (v: unknown) => void): void },
): { rttMs: number; packetsLost: number; jitterMs: number } {
  let rttMs = NaN, packetsLost = 0, jitterMs = NaN;
  const each = (v: unknown) => {
    const r = v as Record<string, unknown>;
    if (r.type === "inbound-rtp" && r.kind === "video") {
      if (typeof r.packetsLost === "number") packetsLost = r.packetsLost;
      if (typeof r.jitter === "number") jitterMs = r.jitter * 1000;
    } else if (
      r.type === "candidate-pair" && (r.nominated || r.selected) && r.state === "succeeded"
    ) {
      if (typeof r.currentRoundTripTime === "number") rttMs = r.currentRoundTripTime * 1000;
    } else if (r.type === "remote-outbound-rtp" && Number.isNaN(rttMs)) {
      if (typeof r.roundTripTime === "number") rttMs = r.roundTripTime * 1000;
    }
  };
  if ("forEach" in report) report.forEach(each);
  else for (const [, v] of report) each(v);
  return { rttMs, packetsLost, jitterMs };
}

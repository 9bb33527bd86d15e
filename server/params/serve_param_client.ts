/**
 * `/ws/params`: one browser (or any client) speaking the hub protocol to smx. The client gets the
 * link state, the mirror's snapshot and then the engine's deltas relayed verbatim (same envelope,
 * same rev). Its writes are checked here — size, UTF-8, JSON, shape, rate, then the spec via the
 * mirror — and only valid ones reach the engine. Nothing a client sends can throw out of here.
 *
 * A client that reads too slowly (socket buffer over `maxBufferedBytes`) stops getting deltas and
 * gets one fresh snapshot once its buffer drains, instead of an ever-growing backlog.
 */
import {
  errorMsg,
  MAX_CLIENT_MESSAGE_BYTES,
  messageText,
  type ParamError,
  parseClientMessage,
  type SetMsg,
} from "../../protocol/params.ts";
import type { MirrorEvent, ParamMirror } from "../engine/param_mirror.ts";
import { ParamWriteError } from "../../protocol/params_client.ts";
import { TokenBucket } from "./token_bucket.ts";

export interface ServeParamOptions {
  maxMessageBytes?: number;
  /** Sustained messages per second per client (default 1000: pointer at 120 Hz + many sliders). */
  ratePerSecond?: number;
  /** Burst allowance (default 2 × ratePerSecond). */
  burst?: number;
  /** Close the client after this many refusals for rate within one burst window (default burst). */
  floodCloseAfter?: number;
  /** Ping a client that sent nothing for this long (it answers `pong`). Default 5000. */
  pingMs?: number;
  /** Close a client that sent nothing (not even a pong) for this long. Default 30000. */
  idleMs?: number;
  maxBufferedBytes?: number;
  label?: string;
  log?: (level: "info" | "warn", msg: string) => void;
}

export interface ParamClientStats {
  received: number;
  forwarded: number;
  refused: number;
  rateLimited: number;
  snapshotsSent: number;
  deltasSent: number;
  deltasSkipped: number;
}

export interface ParamClientHandle {
  readonly stats: ParamClientStats;
  close(code?: number, reason?: string): void;
}

export function serveParamClient(
  socket: WebSocket,
  mirror: ParamMirror,
  opts: ServeParamOptions = {},
): ParamClientHandle {
  const maxBytes = opts.maxMessageBytes ?? MAX_CLIENT_MESSAGE_BYTES;
  const rate = opts.ratePerSecond ?? 1000;
  const bucket = new TokenBucket(rate, opts.burst ?? 2 * rate);
  const floodCloseAfter = opts.floodCloseAfter ?? opts.burst ?? 2 * rate;
  const maxBuffered = opts.maxBufferedBytes ?? 1 << 20;
  const idleMs = opts.idleMs ?? 30000;
  const pingMs = opts.pingMs ?? 5000;
  const log = opts.log ?? (() => {});
  const label = opts.label ?? "client";
  const stats: ParamClientStats = {
    received: 0,
    forwarded: 0,
    refused: 0,
    rateLimited: 0,
    snapshotsSent: 0,
    deltasSent: 0,
    deltasSkipped: 0,
  };
  let lastIn = Date.now();
  let lastPing = 0;
  let refusedInRow = 0;
  let lagging = false;
  let unsubscribe = () => {};
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  socket.binaryType = "arraybuffer";

  const send = (text: string) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(text);
  };
  const refuse = (e: ParamError, id?: number, path?: string) => {
    stats.refused++;
    send(JSON.stringify(errorMsg(e, id, path)));
  };
  const sendSnapshot = () => {
    const s = mirror.snapshot();
    if (!s) return;
    stats.snapshotsSent++;
    send(JSON.stringify(s));
  };
  const close = (code = 1000, reason = "closing") => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(timer);
    try {
      socket.close(code, reason);
    } catch { /* already closed */ }
  };

  const onMirror = (e: MirrorEvent) => {
    if (e.type === "delta") {
      if (lagging) {
        stats.deltasSkipped++;
        return;
      }
      if (socket.bufferedAmount > maxBuffered) {
        lagging = true; // resumes with a snapshot in the timer below
        stats.deltasSkipped++;
        log("warn", `${label}: too slow, deltas paused until its buffer drains`);
        return;
      }
      stats.deltasSent++;
      send(e.raw);
    } else if (e.type === "snapshot") {
      if (!lagging) sendSnapshot();
    } else send(JSON.stringify(e.link));
  };

  const onSet = (m: SetMsg) => {
    mirror.write(m.path, m.value).then(
      (r) => {
        stats.forwarded++;
        send(`{"v":1,"type":"ack","id":${m.id},"rev":${r.rev}}`);
      },
      (err) => {
        const e = err instanceof ParamWriteError
          ? err
          : { code: "engine_offline" as const, message: String(err) };
        refuse({ code: e.code, message: e.message }, m.id, m.path);
      },
    );
  };

  const onMessage = (data: unknown) => {
    if (closed) return;
    lastIn = Date.now();
    stats.received++;
    if (!bucket.take()) {
      stats.rateLimited++;
      if (++refusedInRow > floodCloseAfter) {
        log("warn", `${label}: closed for flooding (> ${rate} msg/s)`);
        refuse({ code: "rate_limited", message: `closing: sustained flood over ${rate} msg/s` });
        close(1008, "rate limit exceeded");
        return;
      }
      const p = typeof data === "string" && data.length < 512 ? parseClientMessage(data) : null;
      const id = p?.ok && p.msg.type === "set" ? p.msg.id : undefined;
      refuse({ code: "rate_limited", message: `over ${rate} messages/s; message dropped` }, id);
      return;
    }
    refusedInRow = 0;
    const t = messageText(data, maxBytes);
    if (!t.ok) {
      refuse(t.error);
      if (t.error.code === "too_large") close(1009, "message too large");
      return;
    }
    const p = parseClientMessage(t.text);
    if (!p.ok) return refuse(p.error, p.id);
    const m = p.msg;
    if (m.type === "set") onSet(m);
    else if (m.type === "sync") {
      lagging = false;
      sendSnapshot();
    } else if (m.type === "ping") send(`{"v":1,"type":"pong","t":${m.t}}`);
  };

  const start = () => {
    send(JSON.stringify(mirror.link));
    if (mirror.state === "connected") sendSnapshot();
    unsubscribe = mirror.subscribe(onMirror);
    timer = setInterval(() => {
      const now = Date.now();
      if (now - lastIn > idleMs) close(4000, `idle for ${idleMs} ms`);
      else if (now - lastIn > pingMs && now - lastPing > pingMs) {
        lastPing = now; // browsers cannot send WebSocket pings; the protocol's ping keeps it alive
        send(`{"v":1,"type":"ping","t":${now}}`);
      } else if (lagging && socket.bufferedAmount < maxBuffered / 4) {
        lagging = false;
        sendSnapshot();
      }
    }, 250);
  };

  socket.addEventListener("message", (ev) => {
    try {
      onMessage(ev.data);
    } catch (e) { // last line of defence: a bug here must not take smx down
      log("warn", `${label}: message handling failed: ${(e as Error).message}`);
    }
  });
  socket.addEventListener("close", () => close());
  socket.addEventListener("error", () => {});
  if (socket.readyState === WebSocket.OPEN) start();
  else socket.addEventListener("open", start, { once: true });
  return { stats, close };
}

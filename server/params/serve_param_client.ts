/**
 * `/ws/params`: one browser (or any client) speaking the hub protocol to smx. The client gets the
 * link state, the mirror's snapshot and then the engine's deltas relayed verbatim (same envelope,
 * same rev). Its writes are checked here — size, UTF-8, JSON, shape, rate, then the spec via the
 * mirror — and only valid ones reach the engine. Nothing a client sends can throw out of here.
 *
 * What one client may cost smx is bounded: its rate (flood_guard.ts: a sustained flood is closed
 * 1008), what smx queues for it (outbox.ts: deltas pause and snapshots coalesce when it reads
 * slowly; a client that stays stuck, or whose send buffer passes a hard cap, is closed 4008), and
 * its message size (64 KiB → `too_large`, close 1009). The runtime buffers a whole message before
 * smx sees it; see MAX_CLIENT_MESSAGE_BYTES in protocol/params.ts for what that costs.
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
import { FloodGuard, type FloodVerdict } from "./flood_guard.ts";
import { Outbox } from "./outbox.ts";
import { deltaForBrowsers, isSmxChannel, snapshotForBrowsers } from "./smx_channels.ts";

export interface ServeParamOptions {
  maxMessageBytes?: number;
  /** Sustained messages per second per client (default 1000: pointer at 120 Hz + many sliders). */
  ratePerSecond?: number;
  /** Burst allowance (default 2 × ratePerSecond). */
  burst?: number;
  /** Close after more than this many refused messages within one second (default ratePerSecond). */
  floodCloseAfter?: number;
  /** Close a client refused for longer than this without a 1 s pause (default 2000 ms). */
  floodCloseMs?: number;
  /** Ping a client that sent nothing for this long (it answers `pong`). Default 5000. */
  pingMs?: number;
  /** Close a client that sent nothing (not even a pong) for this long. Default 30000. */
  idleMs?: number;
  /** Deltas pause (and one snapshot is owed) above this many buffered bytes. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Disconnect (4008) a client whose send buffer passes this. Default 4 MiB. */
  maxBufferedHardBytes?: number;
  /** Disconnect (4008) a client owed a snapshot it could not take for this long. Default 15000. */
  stallCloseMs?: number;
  label?: string;
  log?: (level: "info" | "warn", msg: string) => void;
}

export interface ParamClientStats {
  received: number;
  forwarded: number;
  refused: number;
  rateLimited: number;
  snapshotsSent: number;
  snapshotsCoalesced: number;
  deltasSent: number;
  deltasSkipped: number;
}

export interface ParamClientHandle {
  readonly stats: ParamClientStats;
  /** Bytes queued on the socket and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** How smx closed this client (null while open or when the client closed first). */
  readonly closedWith: { code: number; reason: string } | null;
  close(code?: number, reason?: string): void;
}

export function serveParamClient(
  socket: WebSocket,
  mirror: ParamMirror,
  opts: ServeParamOptions = {},
): ParamClientHandle {
  const maxBytes = opts.maxMessageBytes ?? MAX_CLIENT_MESSAGE_BYTES;
  const rate = opts.ratePerSecond ?? 1000;
  const flood = new FloodGuard({
    ratePerSecond: rate,
    burst: opts.burst ?? 2 * rate,
    closeAfterRefusals: opts.floodCloseAfter,
    closeAfterMs: opts.floodCloseMs,
  });
  const idleMs = opts.idleMs ?? 30000;
  const pingMs = opts.pingMs ?? 5000;
  const log = opts.log ?? (() => {});
  const label = opts.label ?? "client";
  let received = 0, forwarded = 0, refused = 0, rateLimited = 0;
  let lastIn = Date.now();
  let lastPing = 0;
  let unsubscribe = () => {};
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  let closedWith: { code: number; reason: string } | null = null;
  socket.binaryType = "arraybuffer";

  const finish = () => {
    if (closed) return false;
    closed = true;
    unsubscribe();
    clearInterval(timer);
    out.close();
    return true;
  };
  const close = (code = 1000, reason = "closing") => {
    if (!finish()) return;
    closedWith = { code, reason };
    try {
      socket.close(code, reason);
    } catch { /* already closed */ }
  };
  const snapshotText = () => {
    const s = mirror.snapshot();
    return s ? JSON.stringify(snapshotForBrowsers(s)) : null;
  };
  const out = new Outbox(socket, snapshotText, {
    softBytes: opts.maxBufferedBytes ?? 1 << 20,
    hardBytes: opts.maxBufferedHardBytes ?? 4 << 20,
    stallMs: opts.stallCloseMs ?? 15000,
  }, (reason) => {
    log("warn", `${label}: ${reason}; disconnected`);
    close(4008, reason);
  });
  const send = (text: string) => out.send(text);
  const refuse = (e: ParamError, id?: number, path?: string) => {
    refused++;
    send(JSON.stringify(errorMsg(e, id, path)));
  };

  const onMirror = (e: MirrorEvent) => {
    if (e.type === "delta") out.delta(deltaForBrowsers(e.raw));
    else if (e.type === "snapshot") out.requestSnapshot();
    else send(JSON.stringify(e.link));
  };

  const onSet = (m: SetMsg) => {
    if (isSmxChannel(m.path)) {
      return refuse(
        { code: "read_only", message: `${m.path} is written by smx only` },
        m.id,
        m.path,
      );
    }
    mirror.write(m.path, m.value).then(
      (r) => {
        forwarded++;
        // Built with JSON.stringify: the rev comes from the engine and must not break the JSON.
        send(JSON.stringify({ v: 1, type: "ack", id: m.id, rev: r.rev }));
      },
      (err) => {
        const e = err instanceof ParamWriteError
          ? err
          : { code: "engine_offline" as const, message: String(err) };
        refuse({ code: e.code, message: e.message }, m.id, m.path);
      },
    );
  };

  const onRateLimited = (verdict: FloodVerdict, data: unknown) => {
    rateLimited++;
    if (verdict === "close") {
      log("warn", `${label}: closed for flooding (${flood.reason})`);
      close(1008, flood.reason);
    } else if (verdict === "reply") {
      const p = typeof data === "string" && data.length < 512 ? parseClientMessage(data) : null;
      const id = p?.ok && p.msg.type === "set" ? p.msg.id : undefined;
      refuse({
        code: "rate_limited",
        message: `over ${rate} messages/s: messages are dropped, and this second's further ` +
          "refusals go unanswered; keep it up and the connection is closed",
      }, id);
    }
  };

  const onMessage = (data: unknown) => {
    if (closed) return;
    lastIn = Date.now();
    received++;
    const verdict = flood.check();
    if (verdict !== "pass") return onRateLimited(verdict, data);
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
    else if (m.type === "sync") out.requestSnapshot();
    else if (m.type === "ping") send(`{"v":1,"type":"pong","t":${m.t}}`); // t: finite (parser)
  };

  const start = () => {
    send(JSON.stringify(mirror.link));
    if (mirror.state === "connected") out.requestSnapshot();
    unsubscribe = mirror.subscribe(onMirror);
    timer = setInterval(() => {
      const now = Date.now();
      if (now - lastIn > idleMs) close(4000, `idle for ${idleMs} ms`);
      else if (now - lastIn > pingMs && now - lastPing > pingMs) {
        lastPing = now; // browsers cannot send WebSocket pings; the protocol's ping keeps it alive
        send(`{"v":1,"type":"ping","t":${now}}`);
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
  socket.addEventListener("close", () => finish());
  socket.addEventListener("error", () => {});
  if (socket.readyState === WebSocket.OPEN) start();
  else socket.addEventListener("open", start, { once: true });
  return {
    get stats(): ParamClientStats {
      return { received, forwarded, refused, rateLimited, ...out.stats };
    },
    close,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get closedWith() {
      return closedWith;
    },
  };
}

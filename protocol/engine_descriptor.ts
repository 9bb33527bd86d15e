/**
 * What an engine says about itself on `GET /hello` (runtime-neutral: server/, demo/, ui/).
 *
 * Without the token the engine answers only `EngineHelloPublic` (enough for discovery to know
 * "an engine lives here" and to match it with its port file); with `Authorization: Bearer <token>`
 * (or `?token=`) it answers the full `EngineDescriptor`.
 */
import type { PointerChannels } from "./params.ts";

export const ENGINE_KIND = "spacemusic-engine";
export const ENGINE_PROTOCOL_VERSION = 1;

export interface EngineHelloPublic {
  kind: typeof ENGINE_KIND;
  protocol: number;
  name: string;
  version: string;
  instanceId: string;
  pid: number;
  startedUtc: string;
  /** True when this answer is cut down because no (valid) token was given. */
  authRequired: boolean;
}

export type FrameTransport = "frame-ring" | "spout";

/** One texture output the engine publishes. */
export interface FrameSenderInfo {
  /** Stable id within the engine, e.g. "main", "preview-a". */
  id: string;
  label: string;
  transport: FrameTransport;
  /** Frame-ring name (Linux, /dev/shm/smx-ring-<name>) or Spout sender name (Windows). */
  name: string;
  width: number;
  height: number;
  fps: number;
  format: "bgra" | "rgba";
  /** Accepts pointer input through these channels (absent: not interactive). */
  pointer?: PointerChannels;
}

export interface ChannelsSummary {
  count: number;
  groups: string[];
  pages: string[];
  /** Where the spec came from (file name), for the UI's about box. */
  spec: string;
}

export interface EngineTransports {
  /** Path of the parameter hub WebSocket on the same host:port; token as `?token=`. */
  hub: string;
  frameRing: string[];
  spout: string[];
}

export interface EngineDescriptor extends EngineHelloPublic {
  authRequired: false;
  channels: ChannelsSummary;
  senders: FrameSenderInfo[];
  transports: EngineTransports;
}

/** Contents of `engine.<pid>.port` (JSON, mode 0600, per-user folder). */
export interface EnginePortFile {
  port: number;
  pid: number;
  startedUtc: string;
  name: string;
  token: string;
  /** Host the engine listens on (loopback unless configured otherwise). */
  host?: string;
  instanceId?: string;
}

export function isEngineHello(x: unknown): x is EngineHelloPublic {
  const o = x as Record<string, unknown> | null;
  return typeof o === "object" && o !== null && o.kind === ENGINE_KIND &&
    typeof o.name === "string" && typeof o.instanceId === "string" && typeof o.pid === "number";
}

/**
 * Ports an engine tries first when not told otherwise, and that discovery probes on loopback
 * when no port file is found (e.g. an engine run by another user or in a container).
 */
export const ENGINE_PORT_FIRST = 47800;
export const ENGINE_PORT_COUNT = 10;
export const enginePortRange = (): number[] =>
  Array.from({ length: ENGINE_PORT_COUNT }, (_, i) => ENGINE_PORT_FIRST + i);

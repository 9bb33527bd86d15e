/** smx's own descriptor, served at GET /hello (no secrets: anyone allowed to load the UI sees it). */
import type { PointerChannels } from "../protocol/params.ts";

export interface VideoSourceDescriptor {
  id: string;
  label: string;
  width: number;
  height: number;
  fps: number;
  pointer?: PointerChannels;
}

export interface EngineCandidate {
  name: string;
  url: string;
  pid?: number;
  via: string; // how it was found: flag, port-file, probe, frame-ring
  /** smx can link it; when not, `why` says what is missing (e.g. a token). */
  usable: boolean;
  why?: string;
}

export interface SmxHello {
  name: "smx";
  version: string;
  engine: {
    state: "connected" | "connecting" | "offline";
    name: string | null;
    url: string | null;
    message?: string;
    candidates: EngineCandidate[];
  };
  sources: VideoSourceDescriptor[];
  transports: string[];
  encoder: { preference: string[]; lastUsed: string | null };
}

export const SMX_VERSION = "0.1.0";

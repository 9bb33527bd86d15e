/**
 * The demo engine's texture outputs: what they are called, how large, and which channels carry
 * their pointer input. Pure data; demo/renderer.ts makes them render.
 */
import type { FrameSenderInfo } from "../protocol/engine_descriptor.ts";
import { type ChannelMeta, pointerChannelMetas, pointerChannels } from "../protocol/params.ts";

export interface OutputSpec {
  /** Stable id within the engine; also the last part of the frame-ring name. */
  id: string;
  label: string;
  width: number;
  height: number;
  fps: number;
  /** Channel prefix of the pointer sub-channels, e.g. "Output.Main" → Output.Main.MouseX. */
  prefix: string;
  /** Hue offset against Color.Shapes.Hue, so previews are told apart at a glance. */
  hueOffset: number;
  /** Rate channel in the spec that sets this output's fps. */
  rateChannel: string;
}

/** A main scene and two plugin previews (a wide one and a square one for letterbox tests). */
export const DEFAULT_OUTPUTS: readonly OutputSpec[] = [
  {
    id: "main",
    label: "Main scene",
    width: 1280,
    height: 720,
    fps: 60,
    prefix: "Output.Main",
    hueOffset: 0,
    rateChannel: "System.Output.Fps",
  },
  {
    id: "plugin-a",
    label: "Plugin A preview",
    width: 480,
    height: 270,
    fps: 30,
    prefix: "Output.PluginA",
    hueOffset: 0.33,
    rateChannel: "System.Output.PreviewFps",
  },
  {
    id: "plugin-b",
    label: "Plugin B preview",
    width: 320,
    height: 320,
    fps: 30,
    prefix: "Output.PluginB",
    hueOffset: 0.66,
    rateChannel: "System.Output.PreviewFps",
  },
];

/**
 * Frame-ring name: `<engine>-<pid>-<id>`, limited to [A-Za-z0-9._-]{1,63}. The pid keeps two
 * engines with the same name (tests run several) from writing into each other's rings.
 */
export function ringName(engineName: string, pid: number, outputId: string): string {
  const safe = engineName.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 24) || "engine";
  return `${safe}-${pid}-${outputId}`.slice(0, 63);
}

export function outputChannelMetas(outputs: readonly OutputSpec[]): ChannelMeta[] {
  return outputs.flatMap((o) => pointerChannelMetas(o.prefix, o.label));
}

export function senderInfos(
  outputs: readonly OutputSpec[],
  engineName: string,
  pid: number,
): FrameSenderInfo[] {
  return outputs.map((o) => ({
    id: o.id,
    label: o.label,
    transport: "frame-ring",
    name: ringName(engineName, pid, o.id),
    width: o.width,
    height: o.height,
    fps: o.fps,
    format: "bgra",
    pointer: pointerChannels(o.prefix),
  }));
}

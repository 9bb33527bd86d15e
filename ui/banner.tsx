/** The connection-state banner: says what is wrong and clears itself on recovery. */
import type { ParamSource, VideoSource } from "./transport/types.ts";

export type BannerState =
  | "ok"
  | "connecting"
  | "unreachable"
  | "reconnecting"
  | "busy"
  | "expired"
  | "disconnected"
  | "engine-offline"
  | "engine-connecting";

export function bannerState(
  video: VideoSource,
  params: ParamSource,
): { state: BannerState; text: string } {
  const v = video.state.value;
  const p = params.state.value;
  const e = params.engine.value;
  if (v === "expired" || p === "expired") {
    return {
      state: "expired",
      text: "Pairing expired — scan the QR code on the smx machine again.",
    };
  }
  if (v === "disconnected" || p === "disconnected") {
    return {
      state: "disconnected",
      text: "This device was disconnected on the smx machine — scan the QR code to pair again.",
    };
  }
  if (v === "busy" || p === "busy") {
    return { state: "busy", text: "smx is serving as many clients as it can — retrying shortly…" };
  }
  if (v !== "open" && p !== "open") {
    if (v === "connecting" && p === "connecting") {
      return { state: "connecting", text: "Connecting to smx…" };
    }
    return { state: "unreachable", text: "smx is unreachable — reconnecting…" };
  }
  if (v !== "open" || p !== "open") {
    const which = v !== "open" ? "video" : "parameters";
    const first = (v !== "open" ? v : p) === "connecting";
    return {
      state: first ? "connecting" : "reconnecting",
      text: `${first ? "Connecting" : "Reconnecting"} ${which}…`,
    };
  }
  if (e.state === "offline") {
    return { state: "engine-offline", text: `Engine offline${e.message ? `: ${e.message}` : ""}` };
  }
  if (e.state === "connecting") {
    return {
      state: "engine-connecting",
      text: `Connecting to the engine${e.name ? ` ${e.name}` : ""}…`,
    };
  }
  return { state: "ok", text: "" };
}

export function Banner({ video, params }: { video: VideoSource; params: ParamSource }) {
  const b = bannerState(video, params);
  return (
    <div
      class={`banner banner-${b.state}`}
      role="status"
      aria-live="polite"
      data-testid="state-banner"
      data-state={b.state}
      hidden={b.state === "ok"}
    >
      {b.text}
    </div>
  );
}

/**
 * Engine-side churn for tests and benchmarks: changes writable channels at a given rate, the way
 * a running scene (LFOs, audio-reactive values) changes its own parameters. Values stay valid for
 * their metadata, so a mirror that refuses invalid data never hides a bug here.
 */
import type { ChannelMeta, ParamValue } from "../protocol/params.ts";
import type { ParamHub } from "./hub.ts";

/** Channel types churn changes (strings and triggers are left alone). */
export const KINDS = new Set(["float", "int", "bool", "vec2", "vec3", "vec4", "enum", "color"]);

export function randomValue(m: ChannelMeta, rnd: () => number): ParamValue {
  const lo = m.min ?? -100, hi = m.max ?? 100;
  const f = () => lo + (hi - lo) * rnd();
  switch (m.type) {
    case "int":
      return Math.round(f());
    case "bool":
      return rnd() < 0.5;
    case "enum":
      return m.options![Math.floor(rnd() * m.options!.length)];
    case "color":
      return "#" + Math.floor(rnd() * 0xffffff).toString(16).padStart(6, "0");
    case "vec2":
      return [f(), f()];
    case "vec3":
      return [f(), f(), f()];
    case "vec4":
      return [f(), f(), f(), f()];
    default:
      return f();
  }
}

/** Starts churning; returns a stop function. `rate` is changes per second. */
export function startChurn(hub: ParamHub, rate: number, exclude: (path: string) => boolean) {
  const targets = hub.channels.filter((m) =>
    KINDS.has(m.type) && !m.readOnly && !m.hidden && !exclude(m.path)
  );
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  let last = performance.now();
  let owed = 0;
  let i = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    owed += (now - last) * rate / 1000;
    last = now;
    for (; owed >= 1 && targets.length > 0; owed--) {
      const m = targets[i++ % targets.length];
      hub.set(m.path, randomValue(m, rnd));
    }
  }, 5);
  return () => clearInterval(timer);
}

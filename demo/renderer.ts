/**
 * Makes the demo engine's outputs render: one native pattern sender per output (ffi/pattern.ts),
 * its look driven by hub channels. Each change on the hub is mapped to the pattern parameters of
 * the outputs it concerns; the pointer sub-channels of an output move that output's cursor. The
 * pairing QR smx writes (Smx.Pairing.*) is drawn into the main output (demo/pairing_overlay.ts).
 */
import type { ParamValue } from "../protocol/params.ts";
import type { PatternParams, PatternSender } from "../ffi/pattern.ts";
import type { ParamHub } from "./hub.ts";
import { type OutputSpec, ringName } from "./outputs.ts";
import { pairingQr, qrPlacement } from "./pairing_overlay.ts";

const num = (v: ParamValue | undefined, d: number) => (typeof v === "number" ? v : d);
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

interface Live {
  spec: OutputSpec;
  sender: PatternSender;
}

export class DemoRenderer {
  #live: Live[] = [];
  #unsubscribe: () => void = () => {};
  /** The QR drawn now (its modules as text), "" for none: unchanged values do not rebuild it. */
  #overlayKey = "";

  private constructor(private hub: ParamHub) {}

  /** Starts every output; throws (with the loader's explanation) if the native shim is missing. */
  static async start(
    hub: ParamHub,
    outputs: readonly OutputSpec[],
    engineName: string,
  ): Promise<DemoRenderer> {
    // Imported lazily so a hub-only engine (tests, `--outputs none`) never loads the native shim.
    const mod = await import("../ffi/pattern.ts");
    const r = new DemoRenderer(hub);
    try {
      for (const spec of outputs) {
        const ring = ringName(engineName, Deno.pid, spec.id);
        const sender = mod.PatternSender.start(ring, spec.width, spec.height, spec.fps);
        r.#live.push({ spec, sender });
        sender.setParams(r.#paramsFor(spec));
      }
    } catch (e) {
      r.stop();
      throw e;
    }
    r.#unsubscribe = hub.onChange((path) => r.#onChange(path));
    r.#updateOverlay();
    return r;
  }

  /** Frames the main output sent so far (fed back into System.Engine.FrameCount). */
  framesSent(): number {
    return this.#live[0]?.sender.stats().framesSent ?? 0;
  }

  stop(): void {
    this.#unsubscribe();
    for (const l of this.#live) l.sender.stop();
    this.#live = [];
  }

  #paramsFor(o: OutputSpec): Partial<PatternParams> {
    const g = (p: string) => this.hub.get(p);
    const kind = g("Scene.Shapes.Kind");
    const wheel = num(g(`${o.prefix}.Wheel`), 0);
    return {
      hue: (num(g("Color.Shapes.Hue"), 0.58) + o.hueOffset) % 1,
      saturation: num(g("Color.Shapes.Saturation"), 0.8),
      brightness: num(g("Color.Background.Brightness"), 0.12),
      speed: num(g("Scene.Motion.Speed"), 0.5),
      // The wheel over a preview scales that preview's shapes (10 % per notch).
      // The crowd (issue 11): shapes swell with the audience's reaction rate (Smx.Audience.
      // Reactions, written by smx), up to twice their size at 20 reactions per second.
      shapeSize: clamp(
        num(g("Scene.Shapes.Size"), 0.18) * Math.pow(1.1, wheel) *
          (1 + clamp(num(g("Smx.Audience.Reactions"), 0), 0, 20) / 20),
        0.01,
        1,
      ),
      shapeCount: clamp(Math.round(num(g("Scene.Shapes.Count"), 12)), 0, 64),
      shapeKind: kind === "squares" || kind === "bars" ? kind : "circles",
      paused: g("Scene.Motion.Paused") === true,
      cursorVisible: g("Scene.Cursor.Visible") !== false && g(`${o.prefix}.IsOver`) === true,
      cursorX: clamp(num(g(`${o.prefix}.MouseX`), 0.5), 0, 1),
      cursorY: clamp(num(g(`${o.prefix}.MouseY`), 0.5), 0, 1),
      cursorButtons: num(g(`${o.prefix}.Buttons`), 0),
    };
  }

  /** The output the pairing QR goes into: "main", else the first. */
  #main(): Live | undefined {
    return this.#live.find((l) => l.spec.id === "main") ?? this.#live[0];
  }

  #updateOverlay(): void {
    const main = this.#main();
    if (!main) return;
    const qr = pairingQr((p) => this.hub.get(p));
    const place = qr && qrPlacement(main.spec.width, main.spec.height, qr.size);
    const key = qr && place ? `${qr.size}:${qr.modules.join("")}` : "";
    if (key === this.#overlayKey) return;
    main.sender.setOverlay(qr && place ? { ...qr, ...place } : null);
    this.#overlayKey = key;
  }

  #onChange(path: string): void {
    if (path.startsWith("Smx.Pairing.")) {
      this.#updateOverlay();
      return;
    }
    if (path === "Smx.Audience.Reactions") {
      for (const l of this.#live) l.sender.setParams(this.#paramsFor(l.spec));
      return;
    }
    for (const l of this.#live) {
      if (path === l.spec.rateChannel) {
        l.sender.setRate(clamp(Math.round(num(this.hub.get(path), l.spec.fps)), 1, 240));
      } else if (
        path.startsWith("Scene.") || path.startsWith("Color.") || path.startsWith(l.spec.prefix)
      ) {
        // The native call only copies 64 bytes; recomputing all fields keeps this mapping simple.
        l.sender.setParams(this.#paramsFor(l.spec));
      }
    }
  }
}

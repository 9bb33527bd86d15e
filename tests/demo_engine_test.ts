/**
 * The demo engine's outputs: three frame rings of the advertised sizes, a picture that follows
 * the parameters, and a cursor drawn where an output's pointer sub-channels say.
 * Needs the native shim (`deno task build:native`).
 */
import assert from "node:assert/strict";
import { FrameRingReader, listSenders } from "../ffi/ring.ts";
import { ParamClient } from "../protocol/params_client.ts";
import type { EngineDescriptor } from "../protocol/engine_descriptor.ts";
import { startDemoEngine, waitFor } from "./support/demo_engine.ts";

/** BGRA pixel at texture coordinates (u, v) of the newest frame. */
async function pixelAt(r: FrameRingReader, u: number, v: number): Promise<number[]> {
  const { pixels, info } = await r.copyLatest();
  const x = Math.round(u * (info.width - 1)), y = Math.round(v * (info.height - 1));
  const o = y * info.width * 4 + x * 4;
  return [pixels[o + 2], pixels[o + 1], pixels[o]]; // r, g, b
}

Deno.test("demo engine: outputs render, follow parameters, and draw the pointer", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-demo-" });
  const e = await startDemoEngine({
    name: `render-${crypto.randomUUID().slice(0, 6)}`,
    portDir: dir,
    outputs: true,
  });
  const client = new ParamClient(`ws://127.0.0.1:${e.port}/ws/hub?token=${e.token}`);
  let reader: FrameRingReader | undefined;
  try {
    const d: EngineDescriptor = await fetch(`${e.url}/hello?token=${e.token}`).then((r) =>
      r.json()
    );
    assert.deepEqual(
      d.senders.map((s) => [s.id, s.width, s.height]),
      [["main", 1280, 720], ["plugin-a", 480, 270], ["plugin-b", 320, 320]],
    );
    assert.equal(d.senders[2].pointer?.x, "Output.PluginB.MouseX");
    // The cursor is checked on the main output: its 1-px white crosshair is exact there.
    const main = d.senders[0];
    await waitFor(
      () => d.senders.every((s) => listSenders().some((l) => l.name === s.name)),
      "all three rings listed",
    );
    await client.ready;
    // A still, empty, dark picture: only the cursor can make a bright pixel.
    await Promise.all([
      client.set("Scene.Shapes.Count", 0),
      client.set("Color.Background.Brightness", 0),
      client.set("Scene.Motion.Paused", true),
      client.set(main.pointer!.x, 0.25),
      client.set(main.pointer!.y, 0.75),
      client.set(main.pointer!.isOver, true),
    ]);
    reader = FrameRingReader.open(main.name);
    const r = reader;
    let px: number[] = [];
    await waitFor(
      // Every channel bright: a frame rendered before the sets landed may still show a shape.
      async () => (px = await pixelAt(r, 0.25, 0.75)).every((c) => c > 200),
      "white cursor at (0.25, 0.75)",
      5000,
    );
    assert.ok(px.every((c) => c > 200), `cursor pixel ${px}`);
    assert.ok((await pixelAt(r, 0.75, 0.25)).every((c) => c < 40), "dark elsewhere");

    // Pointer leaves the preview: no cursor any more.
    await client.set(main.pointer!.isOver, false);
    await waitFor(
      async () => (await pixelAt(r, 0.25, 0.75)).every((c) => c < 40),
      "cursor hidden",
      5000,
    );

    // Brightness visibly changes the background.
    await client.set("Color.Background.Brightness", 0.9);
    await waitFor(
      // The background is a gradient scaled by brightness: ~(146, 72, 115) here at 0.9.
      async () => (await pixelAt(r, 0.75, 0.25)).reduce((a, b) => a + b) > 250,
      "bright background",
      5000,
    );
  } finally {
    reader?.close();
    client.close();
    await e.kill();
    Deno.removeSync(dir, { recursive: true });
  }
  assert.ok(!listSenders().some((s) => s.name.includes(`-${e.pid}-`)), "rings removed on exit");
});

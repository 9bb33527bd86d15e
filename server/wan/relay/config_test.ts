/**
 * centrifugo.sample.json is exactly what centrifugoConfig builds for a production-like host, and
 * Centrifugo v6 itself accepts it (and the Redis form) with `centrifugo checkconfig`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { centrifugoBinary } from "../../../tests/support/centrifugo.ts";
import { centrifugoConfig, type CentrifugoConfigOptions } from "./centrifugo_config.ts";

export const SAMPLE_OPTIONS: CentrifugoConfigOptions = {
  address: "127.0.0.1",
  port: 8000,
  tokenSecret: "CHANGE-ME: 32+ random bytes, shared with smx and the site only",
  apiKey: "CHANGE-ME: random, shared with smx and the site only",
  allowedOrigins: ["https://smx.example.com"],
};
const SAMPLE = new URL("./centrifugo.sample.json", import.meta.url);

Deno.test("centrifugo.sample.json is the config builder's output", async () => {
  const sample = JSON.parse(await Deno.readTextFile(SAMPLE));
  assert.deepEqual(sample, centrifugoConfig(SAMPLE_OPTIONS));
});

Deno.test("Centrifugo v6 accepts the config, memory and Redis engines", async () => {
  const bin = await centrifugoBinary();
  const dir = await Deno.makeTempDir({ prefix: "smx-cfcheck-" });
  try {
    const forms = {
      sample: centrifugoConfig(SAMPLE_OPTIONS),
      redis: centrifugoConfig({
        ...SAMPLE_OPTIONS,
        redis: { address: "redis://127.0.0.1:6379" },
        nodeName: "rt-1",
      }),
    };
    for (const [name, cfg] of Object.entries(forms)) {
      const path = join(dir, `${name}.json`);
      await Deno.writeTextFile(path, JSON.stringify(cfg));
      const r = await new Deno.Command(bin, { args: ["checkconfig", "--config", path] }).output();
      const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.ok(r.success, `${name}: ${out}`);
      // (checkconfig passes unknown keys; startCentrifugo fails on the server's warning instead.)
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

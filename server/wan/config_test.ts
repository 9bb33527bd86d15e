import assert from "node:assert/strict";
import { parseWanConfig, WanConfigError } from "./config.ts";

const good = {
  engine: "studio-a",
  livekit: { url: "ws://127.0.0.1:7880", apiKey: "k", apiSecret: "s" },
  centrifugo: {
    url: "ws://127.0.0.1:8000/connection/websocket",
    apiUrl: "http://127.0.0.1:8000/api",
    apiKey: "a",
    tokenSecret: "t",
  },
};
const noEnv = () => undefined;

Deno.test("a WAN config parses, secrets may come from the environment", () => {
  const c = parseWanConfig(good, "x", noEnv);
  assert.equal(c.label, "studio-a");
  assert.equal(c.unpublishAfterMs, 10000);
  const { apiSecret: _, ...lk } = good.livekit;
  const env = (n: string) => (n === "SMX_WAN_LIVEKIT_SECRET" ? "from-env" : undefined);
  assert.equal(parseWanConfig({ ...good, livekit: lk }, "x", env).livekit.apiSecret, "from-env");
});

Deno.test("every problem of a WAN config is named at once", () => {
  let err: WanConfigError | undefined;
  try {
    parseWanConfig(
      {
        engine: "Studio A",
        livekit: { url: "ftp://x", apiKey: "k" },
        centrifugo: "no",
        unpublishAfterSeconds: -1,
      },
      "wan.json",
      noEnv,
    );
  } catch (e) {
    err = e as WanConfigError;
  }
  assert.ok(err instanceof WanConfigError);
  for (
    const part of [
      "wan.json",
      '"engine" must match',
      '"livekit.url" must be a',
      '"livekit.apiSecret" is required (or SMX_WAN_LIVEKIT_SECRET)',
      '"centrifugo" must be an object',
      '"centrifugo.tokenSecret" is required',
      '"unpublishAfterSeconds"',
    ]
  ) assert.ok(err.message.includes(part), `${part} in ${err.message}`);
});

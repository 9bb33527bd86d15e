/**
 * Browsers never see or write smx's own `Smx.*` channels (the pairing QR and its secret-bearing
 * URL), while the engine gets them: a real demo engine hub, a real mirror, smx's /ws/params.
 */
import assert from "node:assert/strict";
import { ParamMirror } from "../server/engine/param_mirror.ts";
import { ParamClient } from "../protocol/params_client.ts";
import { startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { startParamServer } from "./support/param_server.ts";

Deno.test("Smx.* channels: hidden from browsers, refused from them, rev sequence unbroken", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "smx-channels-" });
  const engine = await startDemoEngine({ name: `smxch-${Deno.pid}`, portDir: dir });
  const mirror = new ParamMirror({ engine: { url: engine.url, token: engine.token } }).start();
  const smx = startParamServer(mirror);
  let browser: ParamClient | undefined;
  try {
    await mirror.whenConnected(10000);
    assert.ok(
      mirror.snapshot()!.channels.some((c) => c.path === "Smx.Pairing.Url"),
      "the demo engine declares the pairing channels",
    );
    browser = new ParamClient(smx.url);
    await browser.ready;
    await waitFor(() => browser!.store.rev >= 0, "the browser's snapshot");
    assert.ok(!browser.store.metas.some((c) => c.path.startsWith("Smx.")), "no Smx.* metas");
    assert.ok(![...browser.store.entries.keys()].some((p) => p.startsWith("Smx.")));

    // A hand-made write (the browser's own client already refuses unknown paths).
    const ws = new WebSocket(smx.url);
    const reply = new Promise<string>((resolve) => {
      ws.onmessage = (e) => String(e.data).includes('"id":99') && resolve(String(e.data));
    });
    ws.onopen = () =>
      ws.send('{"v":1,"type":"set","id":99,"path":"Smx.Pairing.Show","value":true}');
    assert.match(await reply, /"code":"read_only".*written by smx only/);
    ws.close();

    // smx writes the secret-bearing URL: the browser's rev advances, the value never arrives.
    const events: string[] = [];
    browser.subscribe((e) => events.push(e.type === "delta" ? JSON.stringify(e.msg) : e.type));
    const secretUrl = "http://10.0.0.2:7300/pair#SECRETSECRETSECRETSECRET";
    const { rev } = await mirror.write("Smx.Pairing.Url", secretUrl);
    await waitFor(() => browser!.store.rev >= rev, "the browser reaching the write's rev");
    assert.ok(!events.some((e) => e.includes("SECRET")), "the URL never reached the browser");
    assert.ok(!events.includes("snapshot"), "no gap: the emptied delta kept the sequence");
    // An ordinary write still reaches the browser.
    const path = browser.store.metas.find((m) => m.type === "float" && !m.readOnly)!.path;
    await browser.set(path, browser.store.metas.find((m) => m.path === path)!.min ?? 0);
  } finally {
    browser?.close();
    await smx.close();
    await mirror.stop();
    await engine.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

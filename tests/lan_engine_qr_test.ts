/**
 * The whole chain behind the QR in the engine's window, on a real veth LAN: smx --lan publishes
 * the pairing URL, QR and code to the engine's Smx.Pairing.* channels; the engine's QR hides while
 * a paired LAN device is connected and returns when it leaves; a rotation publishes the new QR.
 * Read from the engine's own hub (what the engine really holds).
 */
import assert from "node:assert/strict";
import { ParamClient } from "../protocol/params_client.ts";
import { qrMatrix } from "../protocol/qr.ts";
import { createLan, startSmxOnLan } from "./support/netns.ts";
import { startDemoEngine, waitFor } from "./support/demo_engine.ts";
import { tempEngineDir } from "./support/processes.ts";

Deno.test({
  name: "LAN: the engine's QR follows pairing: shown, hidden while a device is connected, renewed",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lan = await createLan();
    const dir = tempEngineDir();
    const engine = await startDemoEngine({ name: `qr-${Deno.pid}`, portDir: dir });
    const hub = new ParamClient(`ws://127.0.0.1:${engine.port}/ws/hub?token=${engine.token}`);
    const s = await startSmxOnLan(lan, [], { engineDir: dir });
    const agent = await lan.agent();
    const get = (p: string) => hub.store.get(p);
    try {
      await hub.ready;
      const origin = s.lanOrigin;
      await waitFor(() => get("Smx.Pairing.Show") === true, "the engine told to show the QR");
      const status = await s.status();
      assert.equal(get("Smx.Pairing.Url"), status.pairingUrl);
      assert.equal(get("Smx.Pairing.Code"), status.code);
      assert.equal(get("Smx.Pairing.Qr"), qrMatrix(status.pairingUrl!).modules);

      const res = await agent.http({
        url: `${origin}/pair`,
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ secret: await s.secret() }),
      });
      assert.equal(res.status, 200, res.body);
      const cookie = res.headers["set-cookie"].split(";")[0];
      const w = await agent.ws(`ws://${lan.hostAddress}:${s.port}/ws/params`, { origin, cookie });
      assert.ok(w.opened);
      const t0 = Date.now();
      await waitFor(() => get("Smx.Pairing.Show") === false, "the QR hidden", 2000);
      console.log(`QR hidden ${Date.now() - t0} ms after the LAN device connected`);
      await agent.wsClose(w.handle!);
      await waitFor(() => get("Smx.Pairing.Show") === true, "the QR back", 2000);

      const before = get("Smx.Pairing.Url");
      const rotated = await fetch(`${s.loopback}/api/lan/rotate`, { method: "POST" });
      assert.equal(rotated.status, 200);
      const fresh = await rotated.json();
      await waitFor(() => get("Smx.Pairing.Url") === fresh.pairingUrl, "the new QR published");
      assert.notEqual(before, fresh.pairingUrl);
      assert.equal(get("Smx.Pairing.Code"), fresh.code);
    } finally {
      hub.close();
      await agent.close();
      await s.close();
      await engine.kill();
      await lan.close();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

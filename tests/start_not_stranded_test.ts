/**
 * `smx start` never strands its user: an engine of another user answering on the probe range
 * (no port file of ours, so no token) is listed as unusable and the demo engine starts anyway; a
 * demo engine that dies is restarted and relinked; stopping smx stops it.
 */
import assert from "node:assert/strict";
import { startMainTs, tempEngineDir } from "./support/processes.ts";
import { startDemoEngine, waitFor } from "./support/demo_engine.ts";
import type { SmxHello } from "../server/hello.ts";

function freeProbePort(): number {
  for (let p = 47800; p <= 47809; p++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port: p }).close();
      return p;
    } catch { /* taken */ }
  }
  throw new Error("no free port in 47800–47809 for the foreign engine");
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "another user's engine on the probe range does not stop the demo; a dead demo returns",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const foreignDir = tempEngineDir(); // not the folder smx reads: smx has no token for it
    const ourDir = tempEngineDir();
    const foreign = await startDemoEngine({
      name: `foreign-${Deno.pid}`,
      portDir: foreignDir,
      port: freeProbePort(),
    });
    const smx = await startMainTs(["start", "--port", "0", "--log-level", "debug"], {
      env: { SMX_ENGINE_DIR: ourDir, SMX_ENCODERS: "libx264" },
    });
    const hello = async (): Promise<SmxHello> => await (await fetch(`${smx.url}/hello`)).json();
    let demoPid = 0;
    try {
      await waitFor(async () => (await hello()).engine.state === "connected", "a linked engine");
      const h = await hello();
      const other = h.engine.candidates.find((c) => c.name === foreign.name);
      assert.ok(other, `the foreign engine is listed: ${JSON.stringify(h.engine.candidates)}`);
      assert.equal(other.usable, false);
      assert.match(other.why ?? "", /token/);
      assert.notEqual(h.engine.name, foreign.name, "smx linked its own demo engine");
      assert.ok(h.sources.length > 0, "the demo's outputs are offered");
      const linked = h.engine.candidates.find((c) => c.name === h.engine.name && c.usable);
      demoPid = linked?.pid ?? 0;
      assert.ok(demoPid > 0, "the demo engine's pid is known");

      Deno.kill(demoPid, "SIGKILL");
      const t0 = Date.now();
      await waitFor(
        async () => {
          const x = await hello();
          const c = x.engine.candidates.find((c) => c.name === h.engine.name && c.usable);
          return x.engine.state === "connected" && !!c?.pid && c.pid !== demoPid;
        },
        "the demo engine restarted and relinked",
        8000,
      );
      console.log(`demo engine back and relinked ${Date.now() - t0} ms after SIGKILL`);
      const again = await hello();
      demoPid = again.engine.candidates.find((c) => c.name === h.engine.name && c.usable)!.pid!;
    } finally {
      await smx.kill("SIGTERM");
      await foreign.kill();
      Deno.removeSync(foreignDir, { recursive: true });
      Deno.removeSync(ourDir, { recursive: true });
    }
    await waitFor(() => !alive(demoPid), "the demo engine stopped with smx", 5000);
  },
});

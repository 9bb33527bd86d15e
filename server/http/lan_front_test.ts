import assert from "node:assert/strict";
import { LanFront } from "./lan_front.ts";

/** True when the server closed the connection within `ms`; false when it stayed open. */
async function closedWithin(c: Deno.Conn, ms: number): Promise<boolean> {
  const t = setTimeout(() => c.close(), ms);
  try {
    return (await c.read(new Uint8Array(16))) === null;
  } catch {
    return false; // closed by our timer: it was still open
  } finally {
    clearTimeout(t);
  }
}

/** One request on a connection of its own, closed after (fetch would keep it open, counted). */
async function get(port: number): Promise<string> {
  const c = await Deno.connect({ port });
  await c.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const text = await new Response(c.readable).text();
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

Deno.test({
  name: "LAN front: passes requests with the peer's address, bounds silent connections",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref: { front?: LanFront } = {};
    // The inner server answers with the peer the front says the connection carries.
    const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (_r, info) => {
      const peer = ref.front?.peerOf((info.remoteAddr as Deno.NetAddr).port);
      return new Response(peer ?? "no peer");
    });
    const front = ref.front = new LanFront({
      address: "127.0.0.1",
      port: 0,
      innerPort: inner.addr.port,
      perPeer: 3,
      total: 100,
      headTimeoutMs: 300,
    });
    const held: Deno.Conn[] = [];
    try {
      assert.equal(await get(front.port), "127.0.0.1", "bytes pass, peer known");
      assert.equal(await get(inner.addr.port), "no peer", "one that bypassed the front has none");
      // Three silent connections are held; a fourth from the same address is closed at once.
      for (let i = 0; i < 3; i++) held.push(await Deno.connect({ port: front.port }));
      await new Promise((r) => setTimeout(r, 50));
      const fourth = await Deno.connect({ port: front.port });
      assert.equal(await closedWithin(fourth, 200), true, "the fourth connection was kept");
      assert.equal(front.stats().refused, 1);
      // Silent ones are dropped once the head timeout passes; a slow half head too.
      await held[0].write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"));
      for (const c of held) assert.equal(await closedWithin(c, 1000), true, "still open");
      assert.equal(front.stats().timedOut, 3);
      assert.equal(front.stats().open, 0);
      assert.equal(await get(front.port), "127.0.0.1", "served again");
    } finally {
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      front.close();
      await inner.shutdown();
    }
  },
});

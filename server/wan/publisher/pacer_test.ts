import assert from "node:assert/strict";
import { Pacer } from "./pacer.ts";

/** A pacer over numbers (packet sizes) that records when each was sent. */
function recorder(opts: { rate: number; burst: number; maxSpreadMs: number }) {
  const sent: { size: number; at: number }[] = [];
  const t0 = performance.now();
  const pacer = new Pacer<number>(
    { rateBytesPerSecond: opts.rate, burstBytes: opts.burst, maxSpreadMs: opts.maxSpreadMs },
    (n) => n,
    (n) => sent.push({ size: n, at: performance.now() - t0 }),
  );
  return { pacer, sent };
}

Deno.test("a frame within the burst allowance goes out at once", async () => {
  const { pacer, sent } = recorder({ rate: 1_000_000, burst: 16_000, maxSpreadMs: 10 });
  await pacer.push(Array(10).fill(1200)); // 12 KB: a large delta frame
  assert.equal(sent.length, 10);
  assert.ok(sent.at(-1)!.at - sent[0].at < 2, `sent within 2 ms (${sent.at(-1)!.at} ms)`);
  assert.equal(pacer.paced, 0);
});

Deno.test("a keyframe is spread at the pacing rate, in order", async () => {
  // 100 KB at 10 MB/s after a 16 KB burst: ~8.4 ms of spread.
  const { pacer, sent } = recorder({ rate: 10_000_000, burst: 16_000, maxSpreadMs: 20 });
  const sizes = Array.from({ length: 84 }, (_, i) => 1190 + i % 10);
  await pacer.push(sizes);
  assert.deepEqual(sent.map((s) => s.size), sizes, "every packet, in order");
  const spread = sent.at(-1)!.at - sent[0].at;
  assert.ok(spread >= 6, `spread over ≥ 6 ms (${spread.toFixed(1)} ms)`);
  assert.ok(spread < 40, `but not much longer than planned (${spread.toFixed(1)} ms)`);
  // The first burst went out together.
  const burst = sent.filter((s) => s.at - sent[0].at < 1).length;
  assert.ok(burst >= 10, `the burst allowance went at once (${burst} packets)`);
  assert.equal(pacer.paced, 1);
});

Deno.test("a frame too big for the rate is fitted into maxSpreadMs", async () => {
  // 300 KB at 1 MB/s would take 300 ms; the cap fits it into ~10 ms.
  const { pacer, sent } = recorder({ rate: 1_000_000, burst: 12_000, maxSpreadMs: 10 });
  await pacer.push(Array(250).fill(1200));
  const spread = sent.at(-1)!.at - sent[0].at;
  assert.equal(sent.length, 250);
  assert.ok(spread < 40, `fitted into about maxSpreadMs (${spread.toFixed(1)} ms)`);
});

Deno.test("frames stay in order and a backlog is flushed unpaced", async () => {
  const { pacer, sent } = recorder({ rate: 1_000_000, burst: 1200, maxSpreadMs: 50 });
  const frames = [0, 1, 2, 3, 4, 5].map((f) => Array(20).fill(1000 + f));
  const t0 = performance.now();
  await Promise.all(frames.map((f) => pacer.push(f)));
  const took = performance.now() - t0;
  assert.deepEqual(sent.map((s) => s.size), frames.flat(), "frames in order, never interleaved");
  // Six frames at up to 50 ms each would take 300 ms; with the backlog rule the queue drains fast.
  assert.ok(took < 200, `backlog drained (${took.toFixed(0)} ms)`);
  assert.ok(pacer.flushed > 0, "the backlog was flushed");
});

Deno.test("close drops what is queued and resolves its waiters", async () => {
  const { pacer, sent } = recorder({ rate: 100_000, burst: 1000, maxSpreadMs: 1000 });
  const a = pacer.push(Array(50).fill(1000));
  const b = pacer.push(Array(50).fill(1000));
  pacer.close();
  await Promise.all([a, b]);
  assert.ok(sent.length < 100, `not everything was sent (${sent.length})`);
});

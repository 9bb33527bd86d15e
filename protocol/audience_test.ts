/**
 * Reaction text and the token bucket: emoji, combining marks and right-to-left text kept intact,
 * invalid UTF-8, lone surrogates, controls and bidi overrides refused with a reason, never a throw.
 */
import assert from "node:assert/strict";
import {
  checkReactionText,
  graphemeCount,
  KeyedBuckets,
  MAX_TEXT_GRAPHEMES,
  parseReaction,
  TokenBucket,
} from "./audience.ts";

Deno.test("reaction text: emoji, combining marks, RTL and CJK kept intact (NFC)", () => {
  for (
    const s of [
      "👩🏽‍🚀 liftoff 🇫🇷",
      "שלום עולם",
      "مرحبا بالعالم",
      "日本語のテキスト",
      "e\u0301te\u0301", // decomposed: normalised to NFC
      "क्षत्रिय",
      "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    ]
  ) {
    const r = checkReactionText(s);
    assert.ok(r.ok, `${s}: ${!r.ok && r.reason}`);
    assert.equal(r.text, s.normalize("NFC").trim());
  }
  const r = checkReactionText("e\u0301");
  assert.ok(r.ok);
  assert.equal(r.text, "\u00e9");
  // Bytes too: valid UTF-8 decodes to the same text.
  const b = checkReactionText(new TextEncoder().encode("שלום 👋"));
  assert.ok(b.ok);
  assert.equal(b.text, "שלום 👋");
});

Deno.test("reaction text: invalid UTF-8, lone surrogates, controls and bidi overrides refused", () => {
  const cases: [string | Uint8Array, RegExp][] = [
    [new Uint8Array([0x68, 0xc3]), /not valid UTF-8/], // truncated sequence
    [new Uint8Array([0xff, 0xfe, 0x41]), /not valid UTF-8/],
    [new Uint8Array([0xed, 0xa0, 0x80]), /not valid UTF-8/], // an encoded surrogate
    [new Uint8Array([0xc0, 0xaf]), /not valid UTF-8/], // overlong
    ["a\uD800b", /lone surrogate/],
    ["\uDC00", /lone surrogate/],
    ["line\nbreak", /control/],
    ["bell\u0007", /control/],
    ["c1\u0085", /control/],
    ["x\u2028y", /control/],
    ["evil\u202Etxt.exe", /bidirectional/],
    ["iso\u2067late", /bidirectional/],
    ["   ", /empty/],
    ["a".repeat(MAX_TEXT_GRAPHEMES + 1), /over 80 characters/],
    ["a" + "\u0301\u0302\u0303".repeat(200), /bytes/], // one cluster of 600 marks
  ];
  for (const [input, why] of cases) {
    const r = checkReactionText(input);
    assert.equal(r.ok, false, String(input));
    assert.match((r as { reason: string }).reason, why);
  }
  // 80 emoji clusters (multi-code-point each) count as 80.
  const flags = "🇫🇷".repeat(MAX_TEXT_GRAPHEMES);
  assert.equal(graphemeCount(flags), MAX_TEXT_GRAPHEMES);
  assert.ok(checkReactionText(flags).ok);
});

Deno.test("parseReaction: the fixed set, text checked, garbage refused without throwing", () => {
  assert.deepEqual(parseReaction({ r: "fire" }), { ok: true, msg: { r: "fire" } });
  // Bytes (the protobuf protocol): the JSON around the text does not count against its limit.
  const t = "שלום ".repeat(16).trim();
  assert.deepEqual(parseReaction(new TextEncoder().encode(JSON.stringify({ r: "wow", text: t }))), {
    ok: true,
    msg: { r: "wow", text: t },
  });
  assert.deepEqual(parseReaction('{"r":"heart","text":"שלום"}'), {
    ok: true,
    msg: { r: "heart", text: "שלום" },
  });
  for (
    const bad of [
      null,
      42,
      "nope",
      "[]",
      { r: "poop" },
      { r: "toString" },
      { r: "__proto__" },
      { r: "clap", text: 7 },
      { r: "clap", text: "\u202Egnp.exe" },
      new Uint8Array([0x7b, 0xff]),
      new TextEncoder().encode(JSON.stringify({ r: "fire", text: "x".repeat(3000) })),
    ]
  ) {
    const p = parseReaction(bad);
    assert.equal(p.ok, false, JSON.stringify(bad));
  }
});

Deno.test("token bucket: burst, refill, Retry-After; keyed buckets stay bounded", () => {
  const b = new TokenBucket(3, 1, 0);
  assert.ok(b.take(0).ok && b.take(0).ok && b.take(0).ok);
  assert.deepEqual(b.take(0), { ok: false, retryAfterS: 1 });
  assert.ok(b.take(1000).ok);
  const slow = new TokenBucket(1, 0.1, 0);
  slow.take(0);
  assert.deepEqual(slow.take(0), { ok: false, retryAfterS: 10 });
  const k = new KeyedBuckets(1, 1, 10);
  assert.ok(k.take("a", 0).ok);
  assert.equal(k.take("a", 0).ok, false);
  assert.ok(k.take("b", 0).ok);
  for (let i = 0; i < 100; i++) k.take(`x${i}`, 0);
  assert.ok(k.size <= 10);
});

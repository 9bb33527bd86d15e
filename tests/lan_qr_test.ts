/**
 * The pairing QR: the matrix is a real QR code for the URL (finder patterns, timing, a version
 * that fits), and the SVG and terminal renderings draw exactly that matrix with its quiet zone —
 * read back module by module, so a renderer that drops a row, shifts a column or inverts the
 * colours fails here.
 */
import assert from "node:assert/strict";
import { type QrMatrix, qrMatrix, qrSvg, qrTerminal, QUIET_ZONE } from "../protocol/qr.ts";

const URL_ = "http://10.231.7.1:7300/pair#Dkxx0xB6cWAl20dINozb7D0_B4XcuXgs";

const at = (m: QrMatrix, r: number, c: number) => m.modules[r * m.size + c] === "1";

/** A 7x7 finder pattern at (r, c): dark ring, light ring, dark 3x3 core. */
function isFinder(m: QrMatrix, r0: number, c0: number): boolean {
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      const ring = Math.max(Math.abs(r - 3), Math.abs(c - 3));
      if (at(m, r0 + r, c0 + c) !== (ring !== 2)) return false;
    }
  }
  return true;
}

Deno.test("the matrix is a QR code: size 4v+17, three finders, timing rows", () => {
  const m = qrMatrix(URL_);
  assert.equal(m.modules.length, m.size * m.size);
  assert.match(m.modules, /^[01]+$/);
  assert.equal((m.size - 17) % 4, 0, `size ${m.size}`);
  assert.ok(m.size <= 41, `a pairing URL fits in version 6 or less (size ${m.size})`);
  assert.ok(isFinder(m, 0, 0) && isFinder(m, 0, m.size - 7) && isFinder(m, m.size - 7, 0));
  for (let i = 8; i < m.size - 8; i++) {
    assert.equal(at(m, 6, i), i % 2 === 0, `timing row at ${i}`);
    assert.equal(at(m, i, 6), i % 2 === 0, `timing column at ${i}`);
  }
  assert.notEqual(qrMatrix(URL_ + "x").modules, m.modules, "another text, another code");
});

Deno.test("the SVG draws exactly the matrix, on white, with the quiet zone", () => {
  const m = qrMatrix(URL_);
  const svg = qrSvg(m);
  const side = m.size + 2 * QUIET_ZONE;
  assert.match(svg, new RegExp(`viewBox="0 0 ${side} ${side}"`));
  assert.match(svg, /<rect width="\d+" height="\d+" fill="#fff"\/>/);
  const drawn = new Set<string>();
  for (const [, x, y] of svg.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) drawn.add(`${y},${x}`);
  let dark = 0;
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      const d = drawn.has(`${r + QUIET_ZONE},${c + QUIET_ZONE}`);
      assert.equal(d, at(m, r, c), `module ${r},${c}`);
      if (d) dark++;
    }
  }
  assert.equal(drawn.size, dark, "nothing drawn outside the matrix");
});

/** An ANSI colour sequence (built from its code point: a control character in a literal is lint). */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** The terminal text back to rows of booleans (true = dark), quiet zone included. */
function readTerminal(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.replace(/\n$/, "").split("\n")) {
    const plain = line.replace(SGR, "");
    const top: boolean[] = [], bottom: boolean[] = [];
    for (const ch of plain) {
      top.push(ch === "█" || ch === "▀");
      bottom.push(ch === "█" || ch === "▄");
    }
    rows.push(top, bottom);
  }
  return rows;
}

Deno.test("the terminal rendering: half blocks, quiet zone, black on white in any theme", () => {
  const m = qrMatrix(URL_);
  const text = qrTerminal(m);
  const lines = text.replace(/\n$/, "").split("\n");
  const side = m.size + 2 * QUIET_ZONE;
  assert.equal(lines.length, Math.ceil(side / 2), "two module rows per line");
  for (const l of lines) {
    // Pure black on pure white from the 256-colour cube, reset at the end of every line.
    assert.ok(l.startsWith("\x1b[38;5;16;48;5;231m") && l.endsWith("\x1b[0m"), JSON.stringify(l));
  }
  const rows = readTerminal(text);
  for (let r = 0; r < side; r++) {
    assert.equal(rows[r].length, side, `row ${r} width`);
    for (let c = 0; c < side; c++) {
      const inside = r >= QUIET_ZONE && c >= QUIET_ZONE && r < side - QUIET_ZONE &&
        c < side - QUIET_ZONE;
      const want = inside && at(m, r - QUIET_ZONE, c - QUIET_ZONE);
      assert.equal(rows[r][c], want, `module ${r},${c}`);
    }
  }
  const plain = qrTerminal(m, { ansi: false });
  assert.ok(!plain.includes("\x1b"), "no colours asked, none sent");
  assert.deepEqual(readTerminal(plain), rows);
});

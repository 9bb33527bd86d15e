/**
 * QR codes for the pairing URL: the module matrix (what the engine draws in its window), an SVG
 * (the main UI's "Add a device" panel, `/qr.svg`) and a terminal rendering (smx's start-up
 * report). Runtime-neutral: the matrix comes from qrcode-generator, the renderers are plain text.
 */
import qrcode from "qrcode-generator";

export interface QrMatrix {
  /** Modules per side. */
  size: number;
  /** size * size characters, row-major: '1' dark, '0' light. */
  modules: string;
}

/**
 * Error correction M (15 % of the code may be damaged): a phone reads it off a glossy screen or a
 * terminal with a cursor in it; H would make the code larger for little gain at this length.
 */
export function qrMatrix(text: string): QrMatrix {
  const q = qrcode(0, "M");
  q.addData(text, "Byte");
  q.make();
  const size = q.getModuleCount();
  let modules = "";
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) modules += q.isDark(r, c) ? "1" : "0";
  }
  return { size, modules };
}

function dark(m: QrMatrix, r: number, c: number): boolean {
  return r >= 0 && c >= 0 && r < m.size && c < m.size && m.modules[r * m.size + c] === "1";
}

/** The quiet zone the QR standard asks for, in modules: readers need the light frame. */
export const QUIET_ZONE = 4;

/**
 * An SVG with one path of unit squares on a white square, the quiet zone included; it scales to
 * any size (shape-rendering crispEdges keeps module edges sharp).
 */
export function qrSvg(m: QrMatrix, opts: { pixels?: number } = {}): string {
  const side = m.size + 2 * QUIET_ZONE;
  const px = opts.pixels ?? side * 6;
  let d = "";
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      if (dark(m, r, c)) d += `M${c + QUIET_ZONE} ${r + QUIET_ZONE}h1v1h-1z`;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side}" width="${px}" ` +
    `height="${px}" shape-rendering="crispEdges"><rect width="${side}" height="${side}" ` +
    `fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}

/**
 * Black on white from the 256-colour cube (16 = #000000, 231 = #ffffff), not the 16 base colours:
 * terminal themes repaint "black" and "white" (Solarized's black is blue-grey), and a dark theme
 * would otherwise print an inverted code that many phone readers reject.
 */
const BLACK_ON_WHITE = "\x1b[38;5;16;48;5;231m";
const RESET = "\x1b[0m";

/**
 * The code in Unicode half blocks, two module rows per text line, with the quiet zone; one string
 * with a newline per line. With `ansi` (default) each line is painted black on white so it reads
 * the same on a dark or a light terminal; without, dark modules are drawn as blocks in the
 * terminal's own colour (for dark-on-light output such as a file).
 */
export function qrTerminal(m: QrMatrix, opts: { ansi?: boolean } = {}): string {
  const ansi = opts.ansi ?? true;
  const lines: string[] = [];
  const from = -QUIET_ZONE;
  const to = m.size + QUIET_ZONE;
  for (let r = from; r < to; r += 2) {
    let line = "";
    for (let c = from; c < to; c++) {
      const top = dark(m, r, c);
      const bottom = r + 1 < to && dark(m, r + 1, c);
      line += top ? (bottom ? "█" : "▀") : (bottom ? "▄" : " ");
    }
    lines.push(ansi ? `${BLACK_ON_WHITE}${line}${RESET}` : line);
  }
  return lines.join("\n") + "\n";
}

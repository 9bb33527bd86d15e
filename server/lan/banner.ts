/**
 * What smx prints about the LAN reach: at start-up, and for `smx pairing show|rotate`. The QR
 * code and the 8-digit code are printed only to a terminal: stdout redirected to a file or a
 * journal is a log, and logs keep no pairing secrets (they are then a command away).
 */
import { formatCode, type LanStatus } from "../../protocol/lan.ts";
import { qrMatrix, qrTerminal } from "../../protocol/qr.ts";

export function lanUrlsText(s: Pick<LanStatus, "urls">): string {
  if (s.urls.length === 0) {
    return "LAN: no LAN address found on this machine; serving loopback only " +
      "(--lan-address ADDR names one)\n";
  }
  return s.urls.map((u) => `LAN: serving ${u} too (devices pair first)\n`).join("");
}

/** The QR and code (terminal), or where to find them (anything else). */
export function pairingText(
  s: Pick<LanStatus, "pairingUrl" | "urls" | "code">,
  o: { terminal: boolean; port: number },
): string {
  if (!s.pairingUrl || !s.code) return "";
  if (!o.terminal) {
    return "LAN pairing: QR code and pairing code not printed (stdout is not a terminal); " +
      `run \`smx pairing show --port ${o.port}\` in a terminal, or open ` +
      `http://localhost:${o.port}/qr.svg on this machine\n`;
  }
  const pairPage = s.urls[0] ? `${s.urls[0]}pair` : "/pair";
  return "Scan with a phone or tablet on the same network to pair it:\n" +
    qrTerminal(qrMatrix(s.pairingUrl)) +
    `or open ${pairPage} on it and type the code ${formatCode(s.code)}\n`;
}

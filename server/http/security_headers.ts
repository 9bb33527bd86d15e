/**
 * Headers every response of smx carries, on every listener, refusals included:
 * - a Content-Security-Policy that keeps pages to their own origin (scripts, sockets, frames);
 *   'wasm-unsafe-eval' lets a page compile WebAssembly from its own origin (the WASM H.264 decoder
 *   of pages without WebCodecs, ui/video/wasm_h264/) and allows no JS eval;
 * - nosniff, so a JSON or text answer is never run as a script or styled as a page;
 * - no Referer ever leaves a page of ours (the pairing URL's secret is in the fragment, which
 *   browsers never send, but other paths may name a device);
 * - no framing (clickjacking of "disconnect" or the code field): frame-ancestors and, for older
 *   browsers, X-Frame-Options;
 * - Cross-Origin-Resource-Policy: another site cannot embed our answers even as an image;
 * - no-store on what changes or names a secret: /pair, the APIs, /hello, the QR, refusals.
 * No CORS header is ever sent: no other origin may read anything of ours.
 */

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
  "connect-src 'self'; " +
  "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; " +
  "base-uri 'none'; form-action 'self'";

const COMMON: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
};

function noStore(path: string): boolean {
  return path === "/pair" || path === "/hello" || path === "/qr.svg" || path.startsWith("/api/");
}

/**
 * Adds the headers to `res` (a copy when its headers are immutable). A 101 (WebSocket) answer is
 * left alone: its headers belong to the runtime's handshake.
 */
export function secured(res: Response, path: string): Response {
  if (res.status === 101) return res;
  let out = res;
  try {
    out.headers.set("x-content-type-options", "nosniff");
  } catch {
    out = new Response(res.body, res);
  }
  for (const [k, v] of Object.entries(COMMON)) out.headers.set(k, v);
  if (noStore(path) || res.status >= 400) out.headers.set("cache-control", "no-store");
  for (const k of [...out.headers.keys()]) {
    if (k.startsWith("access-control-")) out.headers.delete(k);
  }
  return out;
}

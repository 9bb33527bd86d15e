/**
 * The UI bundle as the site serves it: smx's own assets (server/http/ui_assets.ts) with
 * `<meta name="smx-reach" content="wan">` in index.html, so the page knows it is in the WAN reach
 * whatever hostname it is served under. Only the main UI: the LAN pairing page is not the site's.
 */
import { REACH_META } from "../protocol/wan.ts";
import type { Asset } from "../server/http/ui_assets.ts";

export interface AssetSource {
  get(path: string): Asset | undefined;
  /** The UI build's error, when it failed. */
  error: string;
}

const NOT_SERVED = new Set(["/pair", "/pair.html"]);

export const REACH_TAG = `<meta name="${REACH_META}" content="wan">`;

/** index.html with the reach meta right after `<head>` (before any script can run). */
export function markReach(html: string): string {
  if (html.includes(REACH_TAG)) return html;
  const at = html.search(/<head[^>]*>/i);
  if (at < 0) return REACH_TAG + html;
  const end = html.indexOf(">", at) + 1;
  return `${html.slice(0, end)}\n    ${REACH_TAG}${html.slice(end)}`;
}

export class SitePages {
  #marked = new WeakMap<Asset, Asset>();

  constructor(private readonly assets: AssetSource) {}

  get error(): string {
    return this.assets.error;
  }

  get(path: string): Asset | undefined {
    if (NOT_SERVED.has(path)) return undefined;
    const p = path === "/" ? "/index.html" : path;
    const a = this.assets.get(p);
    if (!a || p !== "/index.html") return a;
    let m = this.#marked.get(a);
    if (!m) {
      const html = markReach(new TextDecoder().decode(a.body));
      m = {
        body: new TextEncoder().encode(html),
        type: a.type,
        // A different body, so a different tag (never the one the unmarked page had).
        etag: a.etag.replace(/"$/, `-wan"`),
      };
      this.#marked.set(a, m);
    }
    return m;
  }
}

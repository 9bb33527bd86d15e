/**
 * Builds the /pair page in memory with esbuild, beside the main UI (ui/build.ts): `/pair.html`
 * and `/assets/pair.js` (referenced with a content hash, like the main bundle). A separate small
 * bundle: an unpaired LAN device may load only this page, never the UI.
 */
import * as esbuild from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pairDir = dirname(fileURLToPath(import.meta.url));

async function shortHash(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return [...d.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function buildPairPage(
  opts: { minify?: boolean } = {},
): Promise<Map<string, Uint8Array>> {
  const result = await esbuild.build({
    absWorkingDir: pairDir,
    entryPoints: { pair: join(pairDir, "main.ts") },
    outdir: join(pairDir, "dist"),
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: opts.minify ?? true,
    legalComments: "none",
    logLevel: "silent",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith("/pair.js"))?.contents;
  if (!js) throw new Error("esbuild produced no pair.js");
  const template = await Deno.readTextFile(join(pairDir, "index.html"));
  const html = template.replace("__HASH_JS__", await shortHash(js));
  return new Map<string, Uint8Array>([
    ["/pair.html", new TextEncoder().encode(html)],
    ["/assets/pair.js", js],
  ]);
}

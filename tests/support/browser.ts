/**
 * Headless Debian Chromium driven by playwright-core (never a downloaded browser). Missing
 * Chromium is a loud failure, not a skip: the README's setup installs it.
 */
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = Deno.env.get("SMX_CHROMIUM") ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
  // Background tabs must keep drawing in tests that open two pages.
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export async function launchChromium(): Promise<Browser> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: run \`bash scripts/setup.sh test\` (apt-get install chromium)`,
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

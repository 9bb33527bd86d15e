/**
 * The /pair page in real Chromium on a real LAN: Debian Chromium runs inside the network
 * namespace (through the wrapper from tests/support/netns.ts), so it reaches smx's veth address as
 * a LAN device on a plain-HTTP page that is not a secure context. Opening the QR's URL pairs the
 * browser, keeps the cookie from scripts, takes the secret out of the address bar and the
 * history, and lands on the UI; the code typed by hand does the same.
 */
import assert from "node:assert/strict";
import { type Browser, chromium } from "playwright-core";
import { sessionCookieName } from "../protocol/lan.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/browser.ts";
import { createLan, type Lan, type LanSmx, startSmxOnLan } from "./support/netns.ts";

Deno.test({
  name: "the /pair page in Chromium on a real LAN",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = performance.now();
    try {
      Deno.statSync(CHROMIUM);
    } catch {
      throw new Error(`Chromium not found at ${CHROMIUM}: run \`bash scripts/setup.sh test\``);
    }
    const lan: Lan = await createLan();
    let smx: LanSmx | undefined;
    let browser: Browser | undefined;
    try {
      smx = await startSmxOnLan(lan);
      const s = smx;
      const origin = s.lanOrigin;
      browser = await chromium.launch({
        executablePath: lan.chromium(),
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 30_000,
      });
      const b = browser;
      const cookieName = sessionCookieName(s.port);
      const ok: boolean[] = [];

      ok.push(
        await t.step("the QR URL pairs, hides the secret and lands on the UI", async () => {
          const ctx = await b.newContext();
          const page = await ctx.newPage();
          const referers: string[] = [];
          page.on("request", (r) => {
            const ref = r.headers()["referer"];
            if (ref) referers.push(`${r.url()} ← ${ref}`);
          });
          const secret = await s.secret();
          await page.goto(`${origin}/pair#${secret}`);
          await page.waitForURL(`${origin}/`, { timeout: 15_000 });
          assert.equal(await page.locator("#app").count(), 1, "the UI's page, not /pair");
          assert.equal(await page.evaluate(() => isSecureContext), false, "a real LAN page");
          const cookie = (await ctx.cookies(origin)).find((c) => c.name === cookieName);
          assert.ok(cookie, "the session cookie is set");
          assert.equal(cookie.httpOnly, true);
          assert.equal(cookie.sameSite, "Strict");
          assert.equal(cookie.path, "/");
          assert.ok(
            !(await page.evaluate(() => document.cookie)).includes(cookieName),
            "scripts cannot read the cookie",
          );
          assert.ok(!page.url().includes(secret), page.url());
          assert.deepEqual(referers, [], "no request carries a Referer");
          const devices = (await s.status()).devices;
          assert.equal(devices.length, 1);
          assert.equal(devices[0].address, lan.peerAddress);
          assert.match(devices[0].userAgent, /Chrome/);
          // The tab's history: the blank page it opened with, then the UI; /pair#secret was
          // replaced, so Back goes straight to the blank page.
          assert.equal(await page.evaluate(() => history.length), 2);
          await page.goBack();
          assert.equal(page.url(), "about:blank");
          await ctx.close();
        }),
      );

      ok.push(
        await t.step(
          "a wrong secret leaves no trace; / goes to /pair; a wrong code says so, the right pairs",
          async () => {
            const ctx = await b.newContext();
            const page = await ctx.newPage();
            const status = page.locator("[data-testid=pair-status]");
            const posted = () =>
              page.waitForResponse((r) =>
                r.url() === `${origin}/pair` && r.request().method() === "POST"
              );
            const wrong = "A".repeat(32);
            const answer = posted();
            await page.goto(`${origin}/pair#${wrong}`);
            assert.equal((await answer).status(), 401);
            await page.waitForFunction(
              () =>
                document.querySelector("[data-testid=pair-status]")?.textContent?.includes("wrong"),
              undefined,
              { timeout: 10_000 },
            );
            // Even a secret that failed is gone from the address bar at once.
            assert.equal(page.url(), `${origin}/pair`);
            await page.goto(`${origin}/`);
            assert.equal(page.url(), `${origin}/pair`, "an unpaired page load is sent to /pair");
            await page.locator("[data-testid=pair-code]").fill("0000 0000");
            const codeAnswer = posted();
            await page.locator("[data-testid=pair-form] button").click();
            assert.equal((await codeAnswer).status(), 401);
            await page.waitForFunction(
              () =>
                document.querySelector("[data-testid=pair-status]")?.textContent?.includes("wrong"),
              undefined,
              { timeout: 10_000 },
            );
            assert.equal(await status.getAttribute("data-kind"), "error");
            assert.equal((await ctx.cookies(origin)).length, 0);
            const { code } = await s.status();
            await page.locator("[data-testid=pair-code]").fill(
              `${code!.slice(0, 4)} ${code!.slice(4)}`,
            );
            await page.locator("[data-testid=pair-form] button").click();
            await page.waitForURL(`${origin}/`, { timeout: 15_000 });
            assert.ok((await ctx.cookies(origin)).some((c) => c.name === cookieName));
            assert.equal((await s.status()).devices.length, 2);
            await ctx.close();
          },
        ),
      );

      if (ok.includes(false)) console.error(`smx output:\n${s.proc.output().slice(-4000)}`);
      assert.ok(!s.proc.output().includes(await s.secret()), "the secret is in smx's output");
    } finally {
      await browser?.close().catch(() => {});
      await smx?.close();
      await lan.close();
      console.log(`LAN /pair page test: ${Math.round(performance.now() - t0)} ms`);
    }
  },
});

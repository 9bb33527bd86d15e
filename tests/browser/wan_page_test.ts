/**
 * The WAN page's first steps in real headless Chromium, against a tiny static server (no site, no
 * LiveKit, no Centrifugo): the built bundle with the site's reach meta, and a stand-in for the
 * site's API. The whole path through the real servers is tests/wan_*'s (the lead's).
 *  - signed out (401 JSON, and an SSO proxy's 302): the sign-in prompt shows; the page's fetch
 *    never follows the redirect; the button navigates the whole page to `login`; coming back still
 *    signed out says so (the sessionStorage loop guard);
 *  - signed in: the engine picker with online state; a pick joins (POST /api/wan/token) and mounts
 *    the same App with the WAN transports (livekit-client and centrifuge load and run; the servers
 *    are unreachable here, so the banner says so);
 *  - a page without the meta on 127.0.0.1 is the local reach and never loads the WAN chunk.
 */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import type { EngineEntry, JoinTokens, SignedOut } from "../../protocol/wan.ts";
import { REACH_META } from "../../protocol/wan.ts";
import { buildUi } from "../../ui/build.ts";
import { launchChromium } from "../support/browser.ts";
import { waitUntil } from "./stack.ts";
import type {} from "../../ui/diag.ts";

type Mode = "401" | "302" | "in";

/** `SMX_WAN_SHOTS=<dir>` saves screenshots of the prompt and the picker there. */
const SHOTS = Deno.env.get("SMX_WAN_SHOTS");

Deno.test({
  name: "WAN page: sign-in prompt, engine picker, join, and no WAN code on a local page",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const ui = await buildUi({ minify: true });
    await esbuild.stop();
    const index = new TextDecoder().decode(ui.get("/index.html"));
    const marked = index.replace("<head>", `<head>\n    <meta name="${REACH_META}" content="wan">`);
    assert.notEqual(marked, index);
    let mode: Mode = "401";
    const requests: string[] = [];
    const engines: EngineEntry[] = [
      { id: "studio", label: "Studio A", online: true },
      { id: "spare", label: "Spare", online: false },
    ];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const url = new URL(req.url);
        const p = url.pathname;
        requests.push(`${req.method} ${p}`);
        const json = (b: unknown, status = 200) =>
          new Response(JSON.stringify(b), {
            status,
            headers: { "content-type": "application/json", "cache-control": "no-store" },
          });
        if (p.startsWith("/api/wan/")) {
          if (mode === "302") {
            return new Response(null, { status: 302, headers: { location: "/login?rd=%2F" } });
          }
          if (mode === "401") {
            const out: SignedOut = {
              error: "signed_out",
              message: "Please sign in.",
              login: "/login",
            };
            return json(out, 401);
          }
          if (p === "/api/wan/session") {
            return json({ user: { id: "u1", name: "Tess", groups: [] } });
          }
          if (p === "/api/wan/engines") return json(engines);
          if (p === "/api/wan/token" && req.method === "POST") {
            const { engine } = await req.json();
            const join: JoinTokens = {
              engine,
              // Nothing listens on port 9: the transports start and keep retrying.
              livekit: { url: "ws://127.0.0.1:9", room: `smx-${engine}`, token: "x", expiresAt: 0 },
              centrifugo: {
                url: "ws://127.0.0.1:9/connection/websocket",
                token: "x",
                channels: {
                  state: `smx_state:${engine}`,
                  params: `smx_params:${engine}`,
                  ctl: `smx_ctl:${engine}`,
                },
                expiresAt: 0,
              },
            };
            return json(join);
          }
          return json({ error: "not_found", message: "no such API" }, 404);
        }
        if (p === "/login") {
          return new Response("<!doctype html><title>login</title><p id=login>login page</p>", {
            headers: { "content-type": "text/html; charset=utf-8" },
          });
        }
        if (p === "/" || p === "/index.html" || p === "/local") {
          return new Response(p === "/local" ? index : marked, {
            headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
          });
        }
        const body = ui.get(p);
        if (!body) return new Response("not found", { status: 404 });
        return new Response(new Uint8Array(body), {
          headers: {
            "content-type": p.endsWith(".css") ? "text/css" : "text/javascript",
            "cache-control": "no-store",
          },
        });
      },
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await launchChromium();
    const errors: string[] = [];
    const open = async (path = "/") => {
      const page = await browser.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(base + path);
      return page;
    };
    const wanChunk = () => requests.some((r) => /\/assets\/chunks\/wan-/.test(r));
    try {
      await t.step("401: the sign-in prompt, and the button navigates to login", async () => {
        mode = "401";
        const page = await open();
        await page.getByTestId("wan-sign-in").waitFor({ timeout: 10000 });
        assert.ok(wanChunk(), "the WAN page loaded its chunk");
        assert.ok(!requests.includes("GET /login"), "nothing fetched the login");
        assert.equal(await page.getByTestId("wan-sign-in").getAttribute("data-attempts"), "0");
        assert.match(await page.getByTestId("wan-sign-in").innerText(), /Please sign in\./);
        await page.getByTestId("wan-sign-in-button").click();
        await page.waitForURL(`${base}/login`);
        // Back, still signed out: the prompt says the sign-in did not take.
        await page.goto(base + "/");
        await page.getByTestId("wan-sign-in-again").waitFor({ timeout: 10000 });
        if (SHOTS) await page.screenshot({ path: `${SHOTS}/wan-sign-in.png` });
        assert.equal(await page.getByTestId("wan-sign-in").getAttribute("data-attempts"), "1");
        await page.close();
      });

      await t.step("302 from an SSO proxy: signed out, the redirect not followed", async () => {
        mode = "302";
        const before = requests.filter((r) => r.startsWith("GET /login")).length;
        const page = await open();
        await page.getByTestId("wan-sign-in").waitFor({ timeout: 10000 });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(requests.filter((r) => r.startsWith("GET /login")).length, before);
        await page.close();
      });

      await t.step("signed in: the engine picker, then the app on the WAN transports", async () => {
        mode = "in";
        const page = await open();
        await page.getByTestId("wan-engines").waitFor({ timeout: 10000 });
        if (SHOTS) await page.screenshot({ path: `${SHOTS}/wan-engines.png` });
        const items = page.getByTestId("wan-engine");
        assert.equal(await items.count(), 2);
        assert.equal(await items.nth(0).getAttribute("data-online"), "true");
        assert.equal(await items.nth(1).getAttribute("data-online"), "false");
        await page.locator('[data-testid=wan-engine][data-engine="studio"]').click();
        await page.getByTestId("state-banner").waitFor({ state: "attached", timeout: 10000 });
        const diag = await waitUntil("window.__smx", () =>
          page.evaluate(() => {
            const d = (globalThis as unknown as Window).__smx;
            return d ? { reach: d.reach, video: d.video.state, params: d.params.state } : null;
          }));
        assert.equal(diag.reach, "wan");
        assert.notEqual(diag.params, "open");
        assert.ok(requests.includes("POST /api/wan/token"));
        // Remembered: a reload goes straight to the app.
        assert.equal(
          await page.evaluate(() => localStorage.getItem("smx.wan.engine")),
          "studio",
        );
        await page.reload();
        await page.getByTestId("state-banner").waitFor({ state: "attached", timeout: 10000 });
        assert.equal(await page.getByTestId("wan-engines").count(), 0);
        await page.close();
      });

      await t.step("a local page never loads the WAN chunk", async () => {
        requests.length = 0;
        const page = await open("/local");
        await page.getByTestId("state-banner").waitFor({ state: "attached", timeout: 10000 });
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(
          await page.evaluate(() => (globalThis as unknown as Window).__smx?.reach),
          "local",
        );
        assert.ok(!wanChunk(), `no WAN chunk in ${requests.join(", ")}`);
        assert.ok(!requests.some((r) => r.includes("/api/wan/")));
        await page.close();
      });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close().catch(() => {});
      await server.shutdown();
    }
  },
});

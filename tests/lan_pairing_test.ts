/**
 * The LAN reach end to end, on a real LAN: smx (a real process) listens on loopback and on this
 * machine's side of a veth pair; a client inside the network namespace is the LAN device. Pairing
 * by QR secret and by code, what a session opens, rotation (with the real `smx pairing rotate`
 * command), disconnecting a device, and where smx listens.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CLOSE_DEVICE_DISCONNECTED,
  CLOSE_PAIRING_EXPIRED,
  formatCode,
  lanDisconnectPath,
  sessionCookieName,
} from "../protocol/lan.ts";
import { qrMatrix, QUIET_ZONE } from "../protocol/qr.ts";
import { createLan, type Lan, type LanAgent, type LanSmx, startSmxOnLan } from "./support/netns.ts";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "main.ts");
const JSON_POST = { "content-type": "application/json" };

/** Every route a LAN device could ask for, and how it asks. */
const ROUTES: { path: string; method?: string; upgrade?: boolean }[] = [
  { path: "/" },
  { path: "/index.html" },
  { path: "/hello" },
  { path: "/api/stats" },
  { path: "/assets/app.js" },
  { path: "/assets/app.css" },
  { path: "/no-such-page" },
  { path: "/ws/video", upgrade: true },
  { path: "/ws/params", upgrade: true },
  { path: "/api/lan" },
  { path: "/qr.svg" },
  { path: "/api/lan/rotate", method: "POST" },
  { path: "/api/lan/devices/x/disconnect", method: "POST" },
];

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

Deno.test({
  name: "LAN pairing on a real LAN (network namespace + veth)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const t0 = performance.now();
    const lan: Lan = await createLan();
    let smx: LanSmx | undefined;
    try {
      smx = await startSmxOnLan(lan);
      const agent: LanAgent = await lan.agent();
      const s = smx;
      const origin = s.lanOrigin;
      const wsUrl = (p: string) => `ws://${lan.hostAddress}:${s.port}${p}`;
      const pair = (body: unknown) =>
        agent.http({
          url: `${origin}/pair`,
          method: "POST",
          headers: { ...JSON_POST, origin, "user-agent": "lan-test/1" },
          body: JSON.stringify(body),
        });
      const cookieOf = (setCookie: string | undefined) => {
        assert.ok(setCookie, "a Set-Cookie");
        return setCookie.split(";")[0];
      };
      const ok: boolean[] = [];

      ok.push(
        await t.step("smx listens on loopback and the veth address only", async () => {
          const ss = new Deno.Command("ss", { args: ["-ltnH", `sport = :${s.port}`] });
          const out = new TextDecoder().decode((await ss.output()).stdout);
          const local = out.trim().split("\n").map((l) => l.trim().split(/\s+/)[3]).sort();
          assert.deepEqual(local, [`${lan.hostAddress}:${s.port}`, `127.0.0.1:${s.port}`].sort());
          // Another address of this machine (not given with --lan-address) is not served.
          const other = Deno.networkInterfaces().find((i) =>
            i.family === "IPv4" && !i.address.startsWith("127.") && i.address !== lan.hostAddress
          );
          assert.ok(other, "this machine has another IPv4 address to try");
          await assert.rejects(
            Deno.connect({ hostname: other.address, port: s.port }).then((c) => c.close()),
            Deno.errors.ConnectionRefused,
          );
        }),
      );

      ok.push(
        await t.step(
          "unpaired: every route and WebSocket is refused; /pair tells nothing",
          async () => {
            const { code } = await s.status();
            const secret = await s.secret();
            for (const r of ROUTES) {
              const res = await agent.http({
                url: `${origin}${r.path}`,
                method: r.method ?? "GET",
                headers: { origin, ...(r.upgrade ? UPGRADE : {}), ...(r.method ? JSON_POST : {}) },
                ...(r.method ? { body: "{}" } : {}),
              });
              assert.ok([401, 403].includes(res.status), `${r.path}: ${res.status} ${res.body}`);
              assert.ok(!res.body.includes(secret) && !res.body.includes(code!), r.path);
            }
            // A browser's page load of / is sent to /pair.
            const nav = await agent.http({
              url: `${origin}/`,
              headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
            });
            assert.equal(nav.status, 303);
            assert.equal(nav.headers.location, "/pair");
            for (const p of ["/video", "/params"]) {
              const w = await agent.ws(wsUrl(`/ws${p}`), { origin });
              assert.equal(w.opened, false, `/ws${p} opened without pairing`);
            }
            for (const p of ["/pair", "/assets/pair.js"]) {
              const res = await agent.http({ url: `${origin}${p}` });
              assert.equal(res.status, 200, p);
              assert.ok(!res.body.includes(secret) && !res.body.includes(code!), `${p} leaks`);
            }
            assert.equal((await s.status()).devices.length, 0);
          },
        ),
      );

      let cookie = "";
      let session = "";
      ok.push(
        await t.step(
          "the QR secret pairs: the cookie opens /, /hello and both sockets",
          async () => {
            const res = await pair({ secret: await s.secret() });
            assert.equal(res.status, 200, res.body);
            const setCookie = res.headers["set-cookie"];
            cookie = cookieOf(setCookie);
            assert.ok(cookie.startsWith(`${sessionCookieName(s.port)}=`), setCookie);
            for (const attr of ["HttpOnly", "SameSite=Strict", "Path=/"]) {
              assert.ok(setCookie.split("; ").includes(attr), `${attr} in ${setCookie}`);
            }
            session = JSON.parse(res.body).device;
            const page = await agent.http({ url: `${origin}/`, headers: { cookie } });
            assert.equal(page.status, 200);
            assert.match(page.body, /<div id="app">/);
            const hello = await agent.http({ url: `${origin}/hello`, headers: { cookie } });
            assert.equal(hello.status, 200);
            assert.equal(JSON.parse(hello.body).name, "smx");
            const video = await agent.ws(wsUrl("/ws/video"), { origin, cookie });
            const params = await agent.ws(wsUrl("/ws/params"), { origin, cookie });
            assert.ok(video.opened && params.opened, JSON.stringify({ video, params }));
            for (const w of [video, params]) {
              assert.equal((await agent.wsClosed(w.handle!, 300)).close, null, "still open");
            }
            const st = await s.status();
            const dev = st.devices.find((d) => d.id === session);
            assert.ok(dev, JSON.stringify(st.devices));
            assert.equal(dev.address, lan.peerAddress);
            assert.equal(dev.userAgent, "lan-test/1");
            assert.equal(dev.sockets, 2);
            assert.equal(st.connected, 1);
            for (const w of [video, params]) await agent.wsClose(w.handle!);
            // The loopback-only API and the QR stay closed to a paired device.
            for (const p of ["/api/lan", "/qr.svg"]) {
              const r = await agent.http({ url: `${origin}${p}`, headers: { cookie } });
              assert.equal(r.status, 403, p);
            }
          },
        ),
      );

      ok.push(
        await t.step("the code, typed with a space, pairs too", async () => {
          const { code } = await s.status();
          const res = await pair({ code: formatCode(code!) });
          assert.equal(res.status, 200, res.body);
          const c = cookieOf(res.headers["set-cookie"]);
          assert.notEqual(c, cookie, "a session of its own");
          const hello = await agent.http({ url: `${origin}/hello`, headers: { cookie: c } });
          assert.equal(hello.status, 200);
          assert.equal((await s.status()).devices.length, 2);
        }),
      );

      ok.push(
        await t.step("smx pairing show prints the QR of the pairing URL and the code", async () => {
          const st = await s.status();
          const cli = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", MAIN, "pairing", "show", "--port", String(s.port)],
            stdout: "piped",
            stderr: "piped",
          }).output();
          const out = new TextDecoder().decode(cli.stdout);
          assert.equal(cli.code, 0, out + new TextDecoder().decode(cli.stderr));
          assert.ok(
            out.includes(`open ${origin}/pair on it and type the code ${formatCode(st.code!)}`),
            out,
          );
          // The half blocks read back are the pairing URL's QR code, quiet zone and all.
          const esc = String.fromCharCode(27);
          const lines = out.split("\n").filter((l) => l.startsWith(`${esc}[38;5;16;48;5;231m`))
            .map((l) => l.replaceAll(new RegExp(`${esc}\\[[0-9;]*m`, "g"), ""));
          const m = qrMatrix(st.pairingUrl!);
          const side = m.size + 2 * QUIET_ZONE;
          assert.equal(lines.length, Math.ceil(side / 2), out);
          let bits = "";
          for (let r = 0; r < side; r++) {
            for (const ch of [...lines[r >> 1]]) {
              bits += (r & 1 ? "█▄" : "█▀").includes(ch) ? "1" : "0";
            }
          }
          let want = "";
          for (let r = -QUIET_ZONE; r < m.size + QUIET_ZONE; r++) {
            for (let c = -QUIET_ZONE; c < m.size + QUIET_ZONE; c++) {
              const inside = r >= 0 && c >= 0 && r < m.size && c < m.size;
              want += inside ? m.modules[r * m.size + c] : "0";
            }
          }
          assert.equal(bits, want);
        }),
      );

      ok.push(
        await t.step(
          "rotation (smx pairing rotate): sockets close 4401; old cookie, secret and code fail",
          async () => {
            const before = await s.status();
            const oldSecret = await s.secret();
            const w = await agent.ws(wsUrl("/ws/params"), { origin, cookie });
            assert.ok(w.opened);
            const cli = await new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", MAIN, "pairing", "rotate", "--port", String(s.port)],
              stdout: "piped",
              stderr: "piped",
            }).output();
            const out = new TextDecoder().decode(cli.stdout) + new TextDecoder().decode(cli.stderr);
            assert.equal(cli.code, 0, out);
            assert.match(out, /pairing rotated: 2 LAN device\(s\) disconnected/);
            assert.ok(!out.includes(oldSecret), "the CLI prints no secret to a pipe");
            const closed = await agent.wsClosed(w.handle!, 3000);
            assert.equal(closed.close?.code, CLOSE_PAIRING_EXPIRED, JSON.stringify(closed));
            const after = await s.status();
            assert.notEqual(after.code, before.code);
            assert.notEqual(after.pairingUrl, before.pairingUrl);
            assert.deepEqual(after.devices, []);
            assert.equal(
              (await agent.http({ url: `${origin}/hello`, headers: { cookie } })).status,
              401,
            );
            assert.equal((await agent.ws(wsUrl("/ws/video"), { origin, cookie })).opened, false);
            assert.equal((await pair({ secret: oldSecret })).status, 401);
            assert.equal((await pair({ code: before.code })).status, 401);
            const fresh = await pair({ secret: await s.secret() });
            assert.equal(fresh.status, 200, "the new QR pairs");
            cookie = cookieOf(fresh.headers["set-cookie"]);
            session = JSON.parse(fresh.body).device;
          },
        ),
      );

      ok.push(
        await t.step(
          "disconnecting a device closes its sockets 4403 and ends its cookie",
          async () => {
            const w = await agent.ws(wsUrl("/ws/video"), { origin, cookie });
            assert.ok(w.opened);
            const res = await fetch(`${s.loopback}${lanDisconnectPath(session)}`, {
              method: "POST",
            });
            assert.equal(res.status, 200, await res.text());
            const closed = await agent.wsClosed(w.handle!, 3000);
            assert.equal(closed.close?.code, CLOSE_DEVICE_DISCONNECTED);
            assert.equal(
              (await agent.http({ url: `${origin}/hello`, headers: { cookie } })).status,
              401,
            );
            const again = await fetch(`${s.loopback}${lanDisconnectPath(session)}`, {
              method: "POST",
            });
            assert.equal(again.status, 404, await again.text());
          },
        ),
      );

      ok.push(
        await t.step("loopback stays trusted without pairing; the QR is served there", async () => {
          assert.equal((await fetch(`${s.loopback}/hello`)).status, 200);
          const qr = await fetch(`${s.loopback}/qr.svg`);
          assert.equal(qr.status, 200);
          assert.match(await qr.text(), /^<svg /);
          const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws/params`);
          await new Promise((resolve, reject) => {
            ws.onopen = resolve;
            ws.onerror = () => reject(new Error("loopback WebSocket refused"));
          });
          ws.close();
        }),
      );

      if (ok.includes(false)) console.error(`smx output:\n${s.proc.output().slice(-4000)}`);
      // The secret never reaches a log line, whatever happened above.
      assert.ok(!s.proc.output().includes(await s.secret()), "the secret is in smx's output");
    } finally {
      await smx?.close();
      await lan.close();
      console.log(`LAN pairing test: ${Math.round(performance.now() - t0)} ms`);
    }
  },
});

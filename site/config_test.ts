/**
 * The site's config parser and the trusted-proxy and identity rules, without a network: the
 * sample parses, secrets come from the environment, every malformed key is an error naming it,
 * forward-auth headers count only from a configured address.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { identityOf } from "./auth.ts";
import { ConfigError, loadConfig, parseConfig } from "./config.ts";
import { inRange, parseIp, parseRange } from "./ip.ts";
import { markReach } from "./page.ts";
import { sitePolicy } from "./headers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const SECRET_ENV: Record<string, string> = {
  SMX_SITE_LIVEKIT_SECRET: "lk",
  SMX_SITE_CENTRIFUGO_SECRET: "cf",
  SMX_SITE_CENTRIFUGO_API_KEY: "key",
};
const env = (n: string) => SECRET_ENV[n];

async function sample(): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(join(here, "site.sample.json")));
}

Deno.test("the sample config parses, with secrets from the environment", async () => {
  const c = await loadConfig(join(here, "site.sample.json"), env);
  assert.equal(c.publicOrigin, "https://smx.example.com");
  assert.deepEqual(c.listen, { hostname: "127.0.0.1", port: 7400 });
  assert.equal(c.auth.headers.id, "x-authentik-uid");
  assert.equal(c.auth.groupsSeparator, "|");
  assert.equal(c.livekit.apiSecret, "lk");
  assert.equal(c.centrifugo.tokenSecret, "cf");
  assert.equal(c.centrifugo.apiKey, "key");
  assert.equal(c.tokenTtlSeconds, 600);
  assert.equal(c.centrifugo.apiUrl, "http://127.0.0.1:8000/api");
  assert.deepEqual(c.engines[1], { id: "lab", label: "Lab bench", groups: ["smx-lab"] });
  // Without the environment the secrets are missing, and the error says where to put them.
  await assert.rejects(
    loadConfig(join(here, "site.sample.json"), () => undefined),
    /livekit\.apiSecret: missing: set it in the file or in SMX_SITE_LIVEKIT_SECRET/,
  );
});

Deno.test("the environment wins over the file for secrets", async () => {
  const raw = await sample();
  (raw.livekit as Record<string, unknown>).apiSecret = "from-file";
  (raw.centrifugo as Record<string, unknown>).tokenSecret = "from-file";
  const only = (n: string) => n === "SMX_SITE_LIVEKIT_SECRET" ? "from-env" : undefined;
  assert.throws(() => parseConfig(raw, only), /centrifugo\.apiKey: missing/);
  (raw.centrifugo as Record<string, unknown>).apiKey = "from-file";
  const c = parseConfig(raw, only);
  assert.equal(c.livekit.apiSecret, "from-env");
  assert.equal(c.centrifugo.tokenSecret, "from-file");
  assert.equal(c.centrifugo.apiKey, "from-file");
  (raw.livekit as Record<string, unknown>).apiSecret = 5;
  assert.throws(() => parseConfig(raw, () => undefined), /livekit\.apiSecret: must be a non-empty/);
});

Deno.test("malformed configs: errors name the key", async () => {
  // deno-lint-ignore no-explicit-any
  const cases: [string, (r: Record<string, any>) => void, RegExp][] = [
    ["unknown key", (r) => r.trustedProxy = ["1.2.3.4"], /\(top level\)\.trustedProxy: unknown/],
    ["no proxies", (r) => r.trustedProxies = [], /trustedProxies: a non-empty array/],
    ["bad proxy", (r) => r.trustedProxies = ["10.0.0.300"], /trustedProxies\[0\]: not an IP/],
    ["everyone", (r) => r.trustedProxies = ["0.0.0.0/0"], /trustedProxies\[0\]: trusting every/],
    [
      "http origin",
      (r) => r.publicOrigin = "http://smx.example.com",
      /publicOrigin: must be https/,
    ],
    ["origin path", (r) => r.publicOrigin = "https://a.example/x", /publicOrigin: an origin only/],
    ["not a url", (r) => r.publicOrigin = "smx.example.com", /publicOrigin: not a URL/],
    ["preset", (r) => r.auth.preset = "keycloak", /auth\.preset: one of authentik, oauth2-proxy/],
    ["header", (r) => r.auth.headers = { id: "X Bad" }, /auth\.headers\.id: an HTTP header/],
    ["login", (r) => r.auth.login = "javascript:alert(1)", /auth\.login: a path/],
    ["login //", (r) => r.auth.login = "//evil.example/", /auth\.login: a path/],
    ["livekit url", (r) => r.livekit.url = "ftp://x", /livekit\.url: must be a wss/],
    ["cf url", (r) => r.centrifugo.url = "https://rt.example", /centrifugo\.url: must be a wss/],
    [
      "api prefix",
      (r) => r.centrifugo.apiUrl = "http://127.0.0.1:8000/",
      /apiUrl: the server API prefix/,
    ],
    ["ttl", (r) => r.tokenTtlSeconds = 5, /tokenTtlSeconds: a whole number of seconds, 60/],
    ["port", (r) => r.listen.port = 70000, /listen\.port: a whole number/],
    ["no engines", (r) => r.engines = [], /engines: a non-empty array/],
    ["engine id", (r) => r.engines[0].id = "Studio A", /engines\[0\]\.id: "Studio A" does not/],
    ["twice", (r) => r.engines[1].id = "studio", /engines\[1\]\.id: studio is listed twice/],
    ["groups", (r) => r.engines[0].groups = [], /engines\[0\]\.groups: a non-empty array/],
    ["engine key", (r) => r.engines[0].group = ["x"], /engines\[0\]\.group: unknown key/],
  ];
  for (const [what, change, error] of cases) {
    const raw = await sample();
    change(raw);
    assert.throws(() => parseConfig(raw, env, "site.json"), (e: Error) => {
      assert.ok(e instanceof ConfigError, what);
      assert.match(e.message, /^site\.json: /, what);
      assert.match(e.message, error, what);
      return true;
    });
  }
  await assert.rejects(loadConfig("/nonexistent/site.json", env), /cannot read/);
  const bad = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(bad, "{ nope");
  await assert.rejects(loadConfig(bad, env), /is not JSON/);
  await Deno.remove(bad);
});

Deno.test("oauth2-proxy preset: its headers, comma-separated groups, its login", async () => {
  const raw = await sample();
  (raw.auth as Record<string, unknown>) = { preset: "oauth2-proxy" };
  const c = parseConfig(raw, env);
  assert.equal(c.auth.login, "/oauth2/start?rd=/");
  const h = new Headers({
    "x-forwarded-user": "0f3c-subject",
    "x-forwarded-preferred-username": "zoe",
    "x-forwarded-email": "zoe@example.com",
  });
  // oauth2-proxy may send one header per group: joined as "a, b" by the runtime.
  h.append("x-forwarded-groups", "smx-lab");
  h.append("x-forwarded-groups", "staff");
  assert.deepEqual(identityOf(h, "127.0.0.1", c), {
    id: "0f3c-subject",
    name: "zoe",
    email: "zoe@example.com",
    groups: ["smx-lab", "staff"],
  });
});

Deno.test("identity: only from trusted addresses; ids that pose as an engine are refused", async () => {
  const raw = await sample();
  raw.trustedProxies = ["10.1.0.0/16", "fd00::1"];
  const c = parseConfig(raw, env);
  const h = new Headers({
    "x-authentik-uid": "u1",
    "x-authentik-username": "alice",
    "x-authentik-groups": "a|b||",
    // UTF-8 bytes as a proxy writes them ("Zoë"), read back one char per byte.
    "x-authentik-name": "Zo\u00c3\u00ab",
  });
  assert.deepEqual(identityOf(h, "10.1.2.3", c), {
    id: "u1",
    name: "Zoë",
    groups: ["a", "b"],
  });
  assert.equal(identityOf(h, "::ffff:10.1.2.3", c)?.id, "u1");
  assert.equal(identityOf(h, "fd00::1", c)?.id, "u1");
  assert.equal(identityOf(h, "10.2.0.1", c), null);
  assert.equal(identityOf(h, "127.0.0.1", c), null);
  assert.equal(identityOf(h, "fd00::2", c), null);
  assert.equal(identityOf(h, "", c), null);
  assert.equal(identityOf(new Headers({ "x-authentik-username": "x" }), "10.1.2.3", c), null);
  const engine = new Headers({ "x-authentik-uid": "engine:studio" });
  assert.equal(identityOf(engine, "10.1.2.3", c), null);
});

Deno.test("ip ranges", () => {
  assert.deepEqual([...parseIp("::ffff:127.0.0.1")!], [127, 0, 0, 1]);
  assert.equal(parseIp("::1")!.length, 16);
  assert.equal(parseIp("1::2::3"), null);
  assert.equal(parseIp("1.2.3"), null);
  assert.equal(parseIp("[::1]")!.length, 16);
  assert.ok(inRange("192.168.1.77", parseRange("192.168.1.0/24")!));
  assert.ok(!inRange("192.168.2.1", parseRange("192.168.1.0/24")!));
  assert.ok(inRange("10.0.0.9", parseRange("10.0.0.8/29")!));
  assert.ok(!inRange("10.0.0.16", parseRange("10.0.0.8/29")!));
  assert.ok(inRange("2001:db8::42", parseRange("2001:db8::/32")!));
  assert.ok(!inRange("2001:db9::42", parseRange("2001:db8::/32")!));
  assert.ok(!inRange("127.0.0.1", parseRange("::1")!));
  assert.equal(parseRange("10.0.0.0/33"), null);
  assert.equal(parseRange("10.0.0.0/x"), null);
});

Deno.test("index.html gets the reach meta first thing in <head>; the CSP names both servers", async () => {
  const html = '<!doctype html>\n<html><head>\n<meta charset="utf-8"><script src="/a.js"></script>';
  const out = markReach(html);
  assert.match(out, /<head>\n\s*<meta name="smx-reach" content="wan">\n<meta charset/);
  assert.equal(markReach(out), out);
  const c = parseConfig(await sample(), env);
  const csp = sitePolicy(c);
  assert.match(
    csp,
    /connect-src 'self' wss:\/\/livekit\.example\.com https:\/\/livekit\.example\.com wss:\/\/rt\.example\.com https:\/\/rt\.example\.com;/,
  );
  assert.ok(!csp.includes("127.0.0.1:8000"), "the server API address is not the page's business");
});

Deno.test("operators, public and publicMint: parsed, defaulted, malformed refused by key", async () => {
  const raw = await sample();
  const c = parseConfig({ ...raw, operators: { groups: ["ops"] }, public: true }, env);
  assert.deepEqual(c.operators, { groups: ["ops"] });
  assert.deepEqual(c.public, {
    perAddress: { burst: 10, perMinute: 20 },
    global: { burst: 200, perSecond: 50 },
  });
  assert.equal(parseConfig(raw, env).public, undefined);
  for (
    const [extra, key] of [
      [{ operators: { groups: [] } }, /operators\.groups/],
      [{ operators: { group: ["x"] } }, /operators\.group: unknown key/],
      [{ public: "yes" }, /public: true or false/],
      [{ publicMint: {} }, /publicMint: only with public: true/],
      [{ public: true, publicMint: { perAddress: { burst: 0 } } }, /publicMint\.perAddress\.burst/],
    ] as const
  ) {
    assert.throws(() => parseConfig({ ...raw, ...extra }, env), key);
  }
});

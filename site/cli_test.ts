/**
 * `smx site` on the command line: help, a missing or malformed config refused with the key named
 * (exit 2), and the sample config served on the port `--port` says, with the open-files limit raised
 * and said.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, startMainTs } from "../tests/support/processes.ts";

const here = dirname(fileURLToPath(import.meta.url));

async function smx(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("smx site --help; smx --help names it", async () => {
  const h = await smx(["site", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /usage: smx site --config FILE/);
  assert.match(h.stdout, /SMX_SITE_LIVEKIT_SECRET/);
  const top = await smx(["--help"]);
  assert.match(top.stdout, /smx site --config FILE/);
});

Deno.test("smx site refuses a missing or malformed config, naming what is wrong", async () => {
  const none = await smx(["site"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--config FILE is required/);
  const noSecrets = await smx(["site", "--config", join(here, "site.sample.json")]);
  assert.equal(noSecrets.code, 2);
  assert.match(noSecrets.stderr, /livekit\.apiSecret: missing: set it in the file or in SMX_SITE/);
  const badPort = await smx(["site", "--config", join(here, "site.sample.json"), "--port", "x"]);
  assert.equal(badPort.code, 2);
});

Deno.test("smx site serves the sample config on --port, printing where", async () => {
  const site = await startMainTs(
    ["site", "--config", join(here, "site.sample.json"), "--port", "0"],
    {
      env: {
        SMX_SITE_LIVEKIT_SECRET: "s1",
        SMX_SITE_CENTRIFUGO_SECRET: "s2",
        SMX_SITE_CENTRIFUGO_API_KEY: "s3",
      },
      timeoutMs: 60000,
    },
  );
  try {
    assert.match(
      site.output(),
      /smx site listening on http:\/\/127\.0\.0\.1:\d+ for https:\/\/smx\.example\.com/,
    );
    assert.notEqual(site.port, 7400);
    // The open-files limit is raised at start-up and said (issue 11: a crash at ~900 users).
    assert.match(site.output(), /open files: (up to \d+ \(was \d+\)|no limit)/);
    // Not the public host: refused before anything else.
    const res = await fetch(`${site.url}/api/wan/session`);
    assert.equal(res.status, 421);
    await res.body?.cancel();
  } finally {
    await site.kill();
  }
});

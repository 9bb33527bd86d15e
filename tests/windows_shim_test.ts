/**
 * The Windows shim, on Linux: smx.dll cross-built with mingw-w64 and warnings as errors, its
 * exports checked against the Windows FFI table, and the Spout receiver exercised under Wine by a
 * C harness against real Spout senders made the way Spout makes them
 * (ffi/native/tests/wine/: spout_harness.c, fake_sender.c). Wine runs headless under xvfb-run
 * so the D3D11 part (wined3d on Mesa) runs too; Wine 8's known gaps (no texture sharing between
 * processes, no IDXGIKeyedMutex) are the only skips allowed.
 *
 * Needs gcc-mingw-w64-x86-64, libffmpeg-nvenc-dev, wine, wine64 and xvfb (bash scripts/setup.sh
 * test); without them it fails, naming what to install.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { windowsSymbols } from "../ffi/symbols.ts";
import { parseSpoutInfo, parseSpoutList, SpoutFlag } from "../ffi/spout.ts";
import { discoverEngines } from "../server/engine/discovery.ts";
import { buildSpoutHarness, MINGW_GCC } from "../scripts/native/windows.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const NATIVE = join(ROOT, "ffi", "native");

/** The only skips the harness may report under Wine 8 (each a Wine gap, a failure on Windows). */
const WINE_SKIPS = [
  "D3D11 selftest BGRA, keyed mutex",
  "smx-tex: a D3D11 texture shared between processes",
  "smx-tex-rgba: a D3D11 texture shared between processes",
  "smx-keyed: a D3D11 texture shared between processes",
];

/** What the harness must have checked and passed (substrings of its "ok - " lines). */
const REQUIRED = [
  "no SpoutSenderNames map: 0 senders",
  "opening a missing sender: NULL, SMX_E_NOT_FOUND",
  "two fake senders registered",
  "names come sorted",
  "info of A: 320x180 format 87",
  "info of B: 64x48 format 28",
  "description: the sender's exe path",
  "A has a frame-count semaphore and an access mutex",
  "B has no frame-count semaphore",
  "A's frame count is read from its semaphore",
  "A (30 fps, counting)",
  "A's frames come from its semaphore",
  "holding the access mutex stops A's frames",
  "info() while another thread waits",
  "close() during a wait on another thread waits for it",
  "a closed handle: SMX_E_CLOSED",
  "copy_latest into a small buffer: SMX_E_RESIZED with the size",
  "copy_latest of a texture no adapter can open: SMX_E_IO",
  "B (no semaphore, polled at 20/s)",
  "the receiver follows the new size (96x54)",
  "and the new share handle",
  "frames keep coming after the resize",
  "its receiver gets SMX_E_WRITER_GONE",
  "it unregistered: no longer listed",
  "the crashed sender's receiver: SMX_E_WRITER_GONE",
  "a crashed sender (stale name, no info map) is left out of the listing",
  "D3D11 selftest BGRA: every pixel as drawn, in BGRA order",
  "D3D11 selftest RGBA: every pixel as drawn, in BGRA order",
];

async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ ok: boolean; out: string }> {
  const res = await new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 300_000),
  }).output();
  const dec = new TextDecoder();
  return { ok: res.success, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

async function requireTool(cmd: string, args: string[], pkg: string): Promise<void> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} is not installed: the Windows shim cannot be tested. ` +
          `apt-get install -y ${pkg}   (or bash scripts/setup.sh test)`,
      );
    }
    throw e;
  }
}

function hexText(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return new TextDecoder().decode(bytes);
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

Deno.test("Windows shim: smx.dll cross-built with -Werror, Spout receiver under Wine", async (t) => {
  await requireTool(MINGW_GCC, ["--version"], "gcc-mingw-w64-x86-64");
  await requireTool("wine", ["--version"], "wine wine64");
  await requireTool("xvfb-run", ["--help"], "xvfb xauth");
  const dir = await Deno.makeTempDir({ prefix: "smx-win-" });
  const dll = join(dir, "smx.dll");
  const prefix = join(dir, "wineprefix");
  const wineEnv = {
    WINEPREFIX: prefix,
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=", // no Mono/Gecko installer prompts in a fresh prefix
  };
  try {
    await t.step(
      "smx.dll builds from every ffi/native/win/*.c with warnings as errors",
      async () => {
        const r = await run(Deno.execPath(), [
          "run",
          "-A",
          join(ROOT, "scripts", "build_native.ts"),
          "--target",
          "windows",
          "--force",
        ], { env: { SMX_WERROR: "1", SMX_DLL_OUT: dll } });
        assert.ok(r.ok, `the Windows build failed:\n${r.out}`);
      },
    );

    await t.step(
      "it exports the whole Windows FFI table and needs only Windows' DLLs",
      async () => {
        const r = await run("x86_64-w64-mingw32-objdump", ["-p", dll]);
        assert.ok(r.ok, r.out);
        const table = r.out.slice(r.out.indexOf("[Ordinal/Name Pointer] Table"));
        const exported = new Set([...table.matchAll(/^\s+\[\s*\d+\]\s+(\S+)$/gm)].map((m) => m[1]));
        const missing = Object.keys(windowsSymbols).filter((s) => !exported.has(s));
        assert.deepEqual(missing, [], `symbols of the Windows table smx.dll lacks`);
        const imports = [...r.out.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase());
        const runtime = imports.filter((d) => /^lib|pthread|gcc|stdc\+\+/.test(d));
        assert.deepEqual(runtime, [], `MinGW runtime DLLs imported: ${imports.join(", ")}`);
        console.log(`smx.dll imports ${imports.join(", ")}; exports ${exported.size} symbols`);
      },
    );

    await t.step("the harness and the fake Spout sender build", async () => {
      const r = await buildSpoutHarness(NATIVE, dll, dir);
      assert.ok(r.ok, r.out);
    });

    let output = "";
    await t.step("the harness passes under Wine (headless, Xvfb for D3D11)", async () => {
      const r = await run("xvfb-run", [
        "-a",
        "-s",
        "-screen 0 640x480x24",
        "wine",
        join(dir, "spout_harness.exe"),
        "--d3d",
      ], { env: wineEnv, cwd: dir, timeoutMs: 240_000 });
      output = r.out;
      console.log(
        output.split("\n").filter((l) => /^(ok|not ok|skip|harness:|# running)/.test(l)).join(
          "\n",
        ),
      );
      const summary = output.match(/harness: (\d+) passed, (\d+) failed, (\d+) skipped/);
      assert.ok(summary, `the harness did not finish:\n${output}`);
      const failures = output.split("\n").filter((l) => l.startsWith("not ok"));
      assert.deepEqual(failures, [], output);
      for (const want of REQUIRED) {
        assert.ok(
          output.split("\n").some((l) => l.startsWith("ok - ") && l.includes(want)),
          `no passing check "${want}":\n${output}`,
        );
      }
      const skips = output.split("\n").filter((l) => l.startsWith("skip - "))
        .map((l) => l.slice(7, l.indexOf(" #")));
      assert.deepEqual(skips.sort(), [...WINE_SKIPS].sort(), "skips other than Wine's known gaps");
      assert.ok(r.ok, `harness exit status:\n${output}`);
    });

    await t.step("ffi/spout.ts parses what the DLL really wrote", () => {
      const rawList = output.match(/^# raw-list ([0-9a-f]+)$/m);
      assert.ok(rawList, "the harness printed its raw listing");
      const senders = parseSpoutList(hexText(rawList[1]));
      const a = senders.find((s) => s.name === "smx test A");
      const b = senders.find((s) => s.name === "smx-b");
      assert.ok(a && b, JSON.stringify(senders));
      assert.equal(a.width, 320);
      assert.equal(a.height, 180);
      assert.equal(a.dxgiFormat, 87);
      assert.equal(a.shareHandle, 0x40001234);
      assert.ok(a.flags & SpoutFlag.FRAME_COUNT && a.flags & SpoutFlag.ACCESS_MUTEX);
      assert.ok(a.senderFrame > 0);
      assert.match(a.description, /fake_sender\.exe$/);
      assert.equal(b.dxgiFormat, 28);
      assert.equal(b.senderFrame, -1);

      const rawInfo = output.match(/^# raw-info ([0-9a-f]{128})$/m);
      const shown = output.match(
        /^# info frame=(\d+) width=(\d+) height=(\d+) stride=(\d+) dxgi=(\d+) handle=(\d+) flags=(\d+) sender_frame=(-?\d+)$/m,
      );
      assert.ok(rawInfo && shown, "the harness printed a raw smx_spout_info");
      const info = parseSpoutInfo(hexBytes(rawInfo[1]));
      assert.equal(info.frame, BigInt(shown[1]));
      assert.equal(info.width, Number(shown[2]));
      assert.equal(info.height, Number(shown[3]));
      assert.equal(info.stride, Number(shown[4]));
      assert.equal(info.dxgiFormat, Number(shown[5]));
      assert.equal(info.shareHandle, Number(shown[6]));
      assert.equal(info.flags, Number(shown[7]));
      assert.equal(info.senderFrame, BigInt(shown[8]));
      assert.ok(info.captureUs > 0n);
    });

    await t.step(
      "discovery's Spout probe: those senders, video only; 'not Windows' without",
      async () => {
        const rawList = output.match(/^# raw-list ([0-9a-f]+)$/m)!;
        const senders = parseSpoutList(hexText(rawList[1]));
        const portDir = join(dir, "ports");
        await Deno.mkdir(portDir);
        const r = await discoverEngines({
          portDir,
          probePorts: false,
          listSpoutSenders: () => senders,
        });
        assert.equal(r.spout.ran, true);
        assert.deepEqual(r.spout.senders.map((s) => s.name).sort(), ["smx test A", "smx-b"]);
        const spout = r.engines.filter((e) => e.via === "spout");
        assert.deepEqual(spout.map((e) => e.name).sort(), ["smx test A", "smx-b"]);
        for (const e of spout) {
          assert.equal(e.usable, false);
          assert.equal(e.why, "video only: a Spout sender without a parameter hub");
        }
        const none = await discoverEngines({ portDir, probePorts: false });
        assert.equal(none.spout.ran, false);
        assert.match(none.spout.why ?? "", /^not Windows/);
      },
    );
  } finally {
    await run("wineserver", ["-k"], { env: wineEnv, timeoutMs: 30_000 }).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * The release build (`deno task compile`, scripts/release/) up to the runtime download, step by
 * step: the UI staged with every chunk and its manifest, the shim's manifest, extraction into a
 * per-user cache checked by hash (first run writes, second reuses, a damaged cached copy is
 * replaced, a wrong embedded copy fails loudly), the deno compile arguments per target, the
 * DENORT_BIN choice — and deno compile itself: with DENORT_BIN set, a real Linux binary that is
 * started; without it, one attempt whose failure must tell the user about DENORT_BIN.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { ROOT } from "./support/processes.ts";
import { spawnUntilReady } from "../demo/ready_process.ts";
import { buildUiFiles, stageShim, stageUi } from "../scripts/release/stage.ts";
import { compileArgs, EMBED_DIR, targetByName, TARGETS } from "../scripts/release/targets.ts";
import { compileTarget, shimStatus } from "../scripts/release/build.ts";
import { binaryFormat, cachedRuntimePath, chooseRuntime } from "../scripts/release/denort.ts";
import {
  EMBED_DIR as RUNTIME_EMBED_DIR,
  extractShim,
  readEmbeddedShim,
  smxCacheRoot,
} from "../server/release/shim_cache.ts";
import { loadEmbeddedUi, missingReferences } from "../server/release/ui_bundle.ts";
import { MANIFEST_NAME, parseManifest } from "../server/release/manifest.ts";

const linux = targetByName("linux");
const windows = targetByName("windows");
const SHIM = shimStatus(ROOT, linux).path;

function sha256File(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "smx-release-" });
}

let uiFiles: Map<string, Uint8Array> | undefined;
async function ui(): Promise<Map<string, Uint8Array>> {
  uiFiles ??= await buildUiFiles();
  return uiFiles;
}

Deno.test("release: the UI is staged with every chunk and worker, and reads back complete", async () => {
  const files = await ui();
  const dir = tempDir();
  try {
    const m = stageUi(dir, files, linux.triple);
    // Everything the build returned, nothing else: the code-split WAN chunk(s), the shared chunk,
    // both workers, the pairing page.
    assert.deepEqual(m.files.map((f) => f.path).sort(), [...files.keys()].sort());
    for (const p of ["/index.html", "/assets/app.js", "/assets/app.css", "/pair.html"]) {
      assert.ok(files.has(p), p);
    }
    for (const p of ["/assets/wasm-h264-worker.js", "/assets/wan-receive-worker.js"]) {
      assert.ok(files.has(p), p);
    }
    const chunks = [...files.keys()].filter((p) => p.startsWith("/assets/chunks/"));
    assert.ok(chunks.length >= 2, `chunks: ${chunks}`);
    assert.deepEqual(missingReferences(files), []);
    const back = loadEmbeddedUi(join(dir, "ui"));
    assert.equal(back.size, files.size);
    for (const [p, b] of files) assert.deepEqual(back.get(p), b, p);
    // The manifest's hashes are the files' (checked here with another implementation).
    const manifest = parseManifest(Deno.readTextFileSync(join(dir, "ui", MANIFEST_NAME)), "ui");
    for (const e of manifest.files) assert.equal(e.sha256, sha256File(join(dir, "ui", e.path)));

    // A chunk gone from the binary: start-up names it.
    const wanChunk = chunks.find((c) => c.includes("/wan-"))!;
    Deno.removeSync(join(dir, "ui", wanChunk));
    assert.throws(() => loadEmbeddedUi(join(dir, "ui")), (e: Error) => {
      assert.match(e.message, new RegExp(`${wanChunk.replaceAll(".", "\\.")}: missing`));
      assert.match(e.message, /deno task compile/);
      return true;
    });
    // A build that dropped it from the manifest too: the reference from app.js names it.
    const trimmed = new Map(files);
    trimmed.delete(wanChunk);
    assert.ok(missingReferences(trimmed).some((r) => r.startsWith(`${wanChunk} (referenced by`)));
    assert.throws(() => stageUi(dir, trimmed), /UI build is incomplete/);
    const staged2 = tempDir();
    const m2 = stageUi(staged2, files);
    m2.files = m2.files.filter((f) => f.path !== wanChunk);
    Deno.writeTextFileSync(join(staged2, "ui", MANIFEST_NAME), JSON.stringify(m2));
    assert.throws(() => loadEmbeddedUi(join(staged2, "ui")), /referenced by \/assets\/app\.js/);
    // A changed byte: named with both hashes.
    const idx = join(staged2, "ui", "index.html");
    Deno.writeTextFileSync(idx, Deno.readTextFileSync(idx).replace("<title>", "<title>x"));
    assert.throws(() => loadEmbeddedUi(join(staged2, "ui")), /\/index\.html: \d+ bytes, manifest/);
    Deno.removeSync(staged2, { recursive: true });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("release: the shim manifest names the file, its size and SHA-256", () => {
  assert.ok(shimStatus(ROOT, linux).built, `${SHIM} (deno task build:native)`);
  const dir = tempDir();
  try {
    const m = stageShim(dir, SHIM, linux.triple);
    assert.equal(m.kind, "shim");
    assert.equal(m.target, "x86_64-unknown-linux-gnu");
    assert.deepEqual(m.files, [{
      path: "libsmx.so",
      size: Deno.statSync(SHIM).size,
      sha256: sha256File(SHIM),
    }]);
    const { entry, bytes } = readEmbeddedShim(join(dir, "shim"));
    assert.equal(entry.path, "libsmx.so");
    assert.equal(bytes.byteLength, entry.size);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("release: the shim is extracted to the cache, reused, replaced when damaged, refused when the embedded copy is wrong", () => {
  const staged = tempDir();
  const cache = tempDir();
  try {
    stageShim(staged, SHIM);
    const embedded = join(staged, "shim");
    const hash = sha256File(SHIM);

    const first = extractShim(embedded, cache);
    assert.equal(first.action, "written");
    assert.equal(first.path, join(cache, "shim", hash, "libsmx.so"));
    assert.equal(sha256File(first.path), hash);
    // It is a library that loads.
    const lib = Deno.dlopen(first.path, { smx_version: { parameters: [], result: "pointer" } });
    assert.equal(Deno.UnsafePointerView.getCString(lib.symbols.smx_version()!), "smx-shim 1");
    lib.close();

    const mtime = Deno.statSync(first.path).mtime;
    const second = extractShim(embedded, cache);
    assert.equal(second.action, "reused");
    assert.equal(second.path, first.path);
    assert.deepEqual(Deno.statSync(first.path).mtime, mtime, "a good cached copy is not rewritten");

    // Truncated (a full disk, a killed copy): replaced.
    Deno.truncateSync(first.path, 1000);
    const third = extractShim(embedded, cache);
    assert.equal(third.action, "replaced");
    assert.match(third.why, /1000 bytes, manifest says/);
    assert.equal(sha256File(third.path), hash);

    // Same size, one byte changed (tampered): replaced.
    const bytes = Deno.readFileSync(first.path);
    bytes[bytes.length >> 1] ^= 0xff;
    Deno.writeFileSync(first.path, bytes);
    const fourth = extractShim(embedded, cache);
    assert.equal(fourth.action, "replaced");
    assert.match(fourth.why, /SHA-256 [0-9a-f]{64}, manifest says/);
    assert.equal(sha256File(fourth.path), hash);
    // No temporary file is left beside it.
    assert.deepEqual([...Deno.readDirSync(join(cache, "shim", hash))].map((e) => e.name), [
      "libsmx.so",
    ]);

    // The embedded copy does not match its manifest: a loud error, nothing written.
    const broken = Deno.readFileSync(join(embedded, "libsmx.so"));
    broken[100] ^= 0xff;
    Deno.writeFileSync(join(embedded, "libsmx.so"), broken);
    const otherCache = tempDir();
    assert.throws(() => extractShim(embedded, otherCache), (e: Error) => {
      assert.match(e.message, /embedded shim libsmx\.so does not match its manifest/);
      assert.match(e.message, /SHA-256/);
      assert.match(e.message, /deno task compile/);
      return true;
    });
    assert.deepEqual([...Deno.readDirSync(otherCache)], []);
    // No manifest at all.
    Deno.removeSync(join(embedded, MANIFEST_NAME));
    assert.throws(() => extractShim(embedded, otherCache), /manifest .* is missing/);
    Deno.removeSync(otherCache, { recursive: true });
  } finally {
    Deno.removeSync(staged, { recursive: true });
    Deno.removeSync(cache, { recursive: true });
  }
});

Deno.test("release: the per-user cache directory on Linux and Windows", () => {
  const env = (o: Record<string, string>) => (k: string) => o[k];
  assert.equal(smxCacheRoot(env({ XDG_CACHE_HOME: "/x/c", HOME: "/h" }), "linux"), "/x/c/smx");
  assert.equal(smxCacheRoot(env({ HOME: "/h" }), "linux"), "/h/.cache/smx");
  assert.equal(smxCacheRoot(env({ XDG_CACHE_HOME: "rel", HOME: "/h" }), "linux"), "/h/.cache/smx");
  // On Windows the path joins with the host's separator here; what matters is the root chosen.
  assert.equal(
    smxCacheRoot(env({ LOCALAPPDATA: "C:/Users/u/AppData/Local" }), "windows"),
    join("C:/Users/u/AppData/Local", "smx"),
  );
});

Deno.test("release: deno compile arguments per target", () => {
  assert.deepEqual(TARGETS.map((t) => [t.name, t.triple, t.shim, t.output]), [
    ["linux", "x86_64-unknown-linux-gnu", "libsmx.so", "dist/smx-linux-x64"],
    ["windows", "x86_64-pc-windows-msvc", "smx.dll", "dist/smx-windows-x64.exe"],
  ]);
  assert.deepEqual(compileArgs(linux), [
    "compile",
    "-A",
    "--target",
    "x86_64-unknown-linux-gnu",
    "--include",
    "dist/embed",
    "--output",
    "dist/smx-linux-x64",
    "main.ts",
  ]);
  const w = compileArgs(windows, { check: false, optionalModules: ["ffi/spout.ts"] });
  assert.deepEqual(w, [
    "compile",
    "-A",
    "--no-check",
    "--target",
    "x86_64-pc-windows-msvc",
    "--include",
    "dist/embed",
    "--include",
    "ffi/spout.ts",
    "--output",
    "dist/smx-windows-x64.exe",
    "main.ts",
  ]);
  assert.equal(EMBED_DIR, "dist/embed");
  // The runtime modules look for the staging at the same place.
  assert.equal(fileURLToPath(RUNTIME_EMBED_DIR), join(ROOT, EMBED_DIR) + "/");
  assert.throws(() => targetByName("mac"), /unknown target "mac"/);
});

Deno.test("release: DENORT_BIN is used only for the target of its format, and never deno itself", () => {
  const dir = tempDir();
  try {
    const elf = join(dir, "denort");
    const pe = join(dir, "denort.exe");
    Deno.writeFileSync(elf, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    Deno.writeFileSync(pe, new Uint8Array([0x4d, 0x5a, 0x90, 0, 3, 0]));
    assert.equal(binaryFormat(Deno.readFileSync(SHIM).subarray(0, 4)), "elf");
    const env = (o: Record<string, string>) => (k: string) => o[k];
    const l = chooseRuntime(linux, env({ DENORT_BIN: elf }));
    assert.equal(l.denortBin, elf);
    assert.match(l.note, /using DENORT_BIN=.* as the runtime for x86_64-unknown-linux-gnu/);
    const w = chooseRuntime(windows, env({ DENORT_BIN: elf }));
    assert.equal(w.denortBin, undefined);
    assert.match(w.note, /is a elf binary, not for x86_64-pc-windows-msvc: not used/);
    assert.equal(chooseRuntime(windows, env({ DENORT_BIN_WINDOWS: pe })).denortBin, pe);
    assert.throws(() => chooseRuntime(linux, env({ DENORT_BIN_LINUX: pe })), /is pe, not a elf/);
    assert.throws(
      () => chooseRuntime(linux, env({ DENORT_BIN: Deno.execPath() })),
      /is deno itself: a binary built on it only opens the REPL/,
    );
    const zip = join(dir, "denort-x86_64-unknown-linux-gnu.zip");
    Deno.writeFileSync(zip, new Uint8Array([0x50, 0x4b, 3, 4, 20, 0]));
    assert.throws(
      () => chooseRuntime(linux, env({ DENORT_BIN: zip })),
      /is a zip: unzip it and point DENORT_BIN at the denort inside, or copy the zip unchanged to/,
    );
    assert.throws(
      () => chooseRuntime(linux, env({ DENORT_BIN: join(dir, "nope") })),
      /DENORT_BIN=.*nope: cannot read it/,
    );
    assert.match(
      chooseRuntime(linux, env({ DENO_DIR: dir })).note,
      /DENORT_BIN not set: deno compile downloads denort-x86_64-unknown-linux-gnu\.zip for Deno/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// A runtime for Linux: DENORT_BIN (or _LINUX), or deno's own cached download.
const denort = Deno.env.get("DENORT_BIN_LINUX") ?? Deno.env.get("DENORT_BIN") ??
  (() => {
    try {
      return Deno.statSync(cachedRuntimePath(linux)).isFile ? cachedRuntimePath(linux) : undefined;
    } catch {
      return undefined;
    }
  })();

Deno.test({
  name: denort
    ? "release: deno compile builds dist/smx-linux-x64, which runs --version and starts and serves"
    : "release: deno compile without DENORT_BIN fails after the graph and says to set DENORT_BIN",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    stageUi(join(ROOT, EMBED_DIR), await ui(), linux.triple);
    const r = await compileTarget(ROOT, linux, {
      check: false,
      signal: AbortSignal.timeout(180000),
    });
    if (!r.ok) {
      // Without a runtime this is the expected end; with one it is a failure to report.
      assert.equal(
        denort,
        undefined,
        `compile failed with a runtime at hand:\n${r.message}\n${r.output}`,
      );
      console.log(
        "release_test: DENORT_BIN is not set, so no binary can be built here (deno compile " +
          "downloads its runtime); checked instead that the attempt says what to do",
      );
      // deno got through the module graph with everything included, to the runtime download...
      assert.match(r.output, /Compile .*main\.ts to dist\/smx-linux-x64/, r.output);
      assert.match(r.output, /denort-x86_64-unknown-linux-gnu\.zip/, r.output);
      // ...and the message tells the user what to do.
      assert.match(r.message, /DENORT_BIN not set/);
      assert.match(r.message, /set DENORT_BIN=\/path\/to\/denort/);
      assert.match(r.message, /denort-x86_64-unknown-linux-gnu\.zip/);
      return;
    }
    const bin = join(ROOT, linux.output);
    const cache = tempDir();
    const env = { XDG_CACHE_HOME: cache, SMX_ENGINE_DIR: tempDir(), NO_COLOR: "1" };
    const dec = new TextDecoder();
    const version = await new Deno.Command(bin, { args: ["--version"], env }).output();
    assert.equal(version.code, 0, dec.decode(version.stderr));
    assert.match(dec.decode(version.stdout), /^\d+\.\d+\.\d+/);
    const p = await spawnUntilReady(bin, ["start", "--port", "0", "--no-demo"], {
      env,
      ready: /listening on (http:\/\/[^\s/]+:(\d+))/,
      timeoutMs: 30000,
      what: "compiled smx",
    });
    try {
      const page = await fetch(`${p.match[1]}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="app">/);
      const hash = sha256File(SHIM);
      assert.equal(sha256File(join(cache, "smx", "shim", hash, "libsmx.so")), hash);
    } finally {
      await p.stop("SIGKILL");
    }
    // The shim from the cache does real work: smx verify's encode test.
    const v = await new Deno.Command(bin, {
      args: ["verify", "--seconds", "1", "--pattern"],
      env,
    }).output();
    const out = dec.decode(v.stdout);
    assert.equal(v.code, 0, out + dec.decode(v.stderr));
    assert.match(out, /binary: compiled/);
    assert.match(out, /shim: smx-shim 1 from .*libsmx\.so \(reused, sha256/);
  },
});

const denortWindows = Deno.env.get("DENORT_BIN_WINDOWS") ??
  (() => {
    try {
      return Deno.statSync(cachedRuntimePath(windows)).isFile ? "cached" : undefined;
    } catch {
      return undefined;
    }
  })();

Deno.test({
  name: denortWindows
    ? "release: deno compile builds dist/smx-windows-x64.exe with smx.dll inside"
    : "release: deno compile for Windows gets through the graph with smx.dll staged, then names DENORT_BIN",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dll = shimStatus(ROOT, windows);
    assert.ok(dll.built, dll.why);
    stageUi(join(ROOT, EMBED_DIR), await ui(), windows.triple);
    const r = await compileTarget(ROOT, windows, {
      check: false,
      signal: AbortSignal.timeout(180000),
    });
    const staged = parseManifest(
      Deno.readTextFileSync(join(ROOT, EMBED_DIR, "shim", MANIFEST_NAME)),
      "shim",
    );
    assert.deepEqual(staged.files.map((f) => [f.path, f.sha256]), [[
      "smx.dll",
      sha256File(dll.path),
    ]]);
    if (r.ok) {
      // A PE executable; it cannot be run here (see docs/windows.md).
      const head = Deno.readFileSync(join(ROOT, windows.output)).subarray(0, 2);
      assert.equal(binaryFormat(head), "pe");
      return;
    }
    assert.equal(denortWindows, undefined, `${r.message}\n${r.output}`);
    console.log("release_test: no Windows runtime (DENORT_BIN_WINDOWS) here: checked the attempt");
    assert.match(r.output, /Compile .*main\.ts to dist\/smx-windows-x64\.exe/, r.output);
    assert.match(r.output, /denort-x86_64-pc-windows-msvc\.zip/, r.output);
    assert.match(r.message, /set DENORT_BIN=\/path\/to\/denort\.exe/);
  },
});

Deno.test({
  name:
    "release: `deno task compile` itself: an unknown target is refused, a failed target fails the task",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = async (args: string[]) => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "scripts", "compile.ts"), ...args],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        signal: AbortSignal.timeout(120000),
      }).output();
      const dec = new TextDecoder();
      return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
    };
    const bad = await run(["--target", "mac"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown target "mac" \(linux, windows or all\)/);
    if (denort) return; // with a runtime, the compile test above built the binary for real
    const r = await run(["--target", "linux", "--no-check", "--no-native"]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /ui: \d+ files staged in dist\/embed\/ui/);
    assert.match(r.out, /== linux \(x86_64-unknown-linux-gnu\) → dist\/smx-linux-x64/);
    assert.match(r.out, /DENORT_BIN not set/);
    // deno's own error, then what to do.
    assert.match(r.err, /error: .*dist\/smx-linux-x64/);
    assert.match(r.err, /linux failed:\n[^]*set DENORT_BIN=\/path\/to\/denort/);
  },
});

Deno.test({
  name: "release: the start-up side as a compiled binary runs it (standalone simulated in a child)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // No binary can be built here; this runs the same modules with Deno.build.standalone set, so
    // they take their compiled-binary branches on the staged dist/embed/ (read from the disk
    // here, from the binary's embedded files in a real one).
    const embed = join(ROOT, EMBED_DIR);
    stageUi(embed, await ui(), linux.triple);
    stageShim(embed, SHIM, linux.triple);
    const scriptDir = tempDir();
    const script = join(scriptDir, "compiled_startup.ts");
    Deno.writeTextFileSync(
      script,
      `Object.defineProperty(Deno, "build", { value: { ...Deno.build, standalone: true } });
const { UiAssets } = await import(${JSON.stringify(join(ROOT, "server/http/ui_assets.ts"))});
const lib = await import(${JSON.stringify(join(ROOT, "ffi/lib.ts"))});
try {
  const a = await UiAssets.load();
  console.log("ui", a.files().size, a.get("/")!.type);
} catch (e) {
  console.log("ui error:", (e as Error).message);
}
const x = await lib.prepareEmbeddedShim();
console.log("shim", x.action, lib.shimPath());
console.log("version", Deno.UnsafePointerView.getCString(lib.native().smx_version()!));
`,
    );
    const cache = tempDir();
    try {
      await simulatedStartup(embed, script, cache);
    } finally {
      Deno.removeSync(scriptDir, { recursive: true });
      Deno.removeSync(cache, { recursive: true });
    }
  },
});

async function simulatedStartup(embed: string, script: string, cache: string): Promise<void> {
  const run = async () => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", script],
      cwd: ROOT,
      env: { XDG_CACHE_HOME: cache, NO_COLOR: "1" },
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  };
  const hash = sha256File(SHIM);
  const extracted = join(cache, "smx", "shim", hash, "libsmx.so");
  let r = await run();
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, new RegExp(`^ui ${(await ui()).size} text/html`, "m"));
  assert.match(r.out, new RegExp(`^shim written ${extracted.replaceAll(".", "\\.")}$`, "m"));
  assert.match(r.out, /^version smx-shim 1$/m);
  r = await run();
  assert.match(r.out, /^shim reused /m, r.out + r.err);
  // A chunk missing from the embedded UI: refused, named.
  const chunk = [...(await ui()).keys()].find((p) => p.startsWith("/assets/chunks/"))!;
  Deno.removeSync(join(embed, "ui", chunk));
  r = await run();
  assert.match(r.out, new RegExp(`ui error: UI bundle in .* is incomplete .*${chunk}: missing`));
  stageUi(embed, await ui(), linux.triple);
}

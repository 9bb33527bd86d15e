/**
 * Release form: one `deno compile`d binary per platform with the UI bundle and the native shim
 * inside (the shim is copied to a per-user cache at start-up and checked by hash; the UI is
 * checked complete; see server/release/).
 *
 *   deno task compile                    every target whose shim is built here
 *   deno task compile --target linux     dist/smx-linux-x64        (libsmx.so inside)
 *   deno task compile --target windows   dist/smx-windows-x64.exe  (smx.dll inside)
 *   deno task compile --no-check         skip type checking
 *   deno task compile --no-native        use the shims as built (skip `deno task build:native`)
 *
 * deno compile builds on the `denort` runtime, which it downloads; where that is impossible, set
 * DENORT_BIN=/path/to/denort (same Deno version; see scripts/release/denort.ts and
 * docs/windows.md). The steps live in scripts/release/ (tested by tests/release_test.ts).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ReleaseTarget, targetByName, TARGETS } from "./release/targets.ts";
import { compileTarget, shimStatus, stageUiFor } from "./release/build.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string", default: "all" },
    "no-check": { type: "boolean" },
    "no-native": { type: "boolean" },
  },
});
const explicit = flags.target !== "all";
let targets: ReleaseTarget[];
try {
  targets = explicit ? [targetByName(flags.target!)] : [...TARGETS];
} catch (e) {
  console.error(`compile: ${(e as Error).message}`);
  Deno.exit(2);
}

if (!flags["no-native"]) {
  const native = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build:native"],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!native.success) {
    // A shim left from an earlier build would not match the sources: no release from it.
    console.error("compile: `deno task build:native` failed (above); nothing compiled");
    Deno.exit(1);
  }
}

const built: string[] = [];
const problems: string[] = [];
const buildable = targets.filter((t) => {
  const s = shimStatus(root, t);
  if (!s.built) problems.push(`skipped ${t.name}: ${s.why}`);
  return s.built;
});
if (buildable.length) {
  console.log(`ui: ${await stageUiFor(root)} files staged in dist/embed/ui`);
}
for (const t of buildable) {
  console.log(`\n== ${t.name} (${t.triple}) → ${t.output}`);
  const r = await compileTarget(root, t, { check: !flags["no-check"], echo: true });
  if (r.ok) built.push(join(root, t.output));
  else problems.push(`${t.name} failed:\n${r.message}`);
}

console.log("");
for (const b of built) console.log(`built ${b}`);
for (const p of problems) console.error(p);
// Every requested target must be built; by default, those that can be built here must be.
const failed = problems.some((p) => !p.startsWith("skipped")) || (explicit && problems.length) ||
  !built.length;
if (failed) Deno.exit(1);

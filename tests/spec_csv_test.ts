/** The parameter spec CSV: the shipped sample, bad rows reported by line, empty, quoting/BOM/CRLF. */
import assert from "node:assert/strict";
import { parseSpecCsv } from "../protocol/spec_csv.ts";
import { validateValue, VALUE_TYPES } from "../protocol/params.ts";

const read = (p: string) => Deno.readTextFileSync(new URL(p, import.meta.url));

Deno.test("spec: the sample CSV loads cleanly with 40+ parameters of every type", () => {
  const { channels, errors, warnings } = parseSpecCsv(read("../demo/spec/spacemusic-demo.csv"));
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
  assert.ok(channels.length >= 40, `${channels.length} channels`);
  assert.deepEqual(new Set(channels.map((c) => c.type)), new Set(VALUE_TYPES));
  assert.ok(new Set(channels.map((c) => c.page)).size >= 4, "several pages");
  assert.ok(new Set(channels.map((c) => `${c.page}/${c.group}`)).size >= 10, "several groups");
  for (const c of channels) {
    // Every default is a value the hub would accept (triggers hold a count, not a write).
    if (c.type === "trigger") assert.equal(c.default, 0);
    else if (!c.readOnly) assert.equal(validateValue(c, c.default), null, c.path);
  }
  const hue = channels.find((c) => c.path === "Color.Shapes.Hue")!;
  assert.deepEqual(
    [hue.label, hue.group, hue.page, hue.min, hue.max, hue.step, hue.default],
    ["Hue", "Shapes", "Color", 0, 1, 0.001, 0.58],
  );
  const kind = channels.find((c) => c.path === "Scene.Shapes.Kind")!;
  assert.deepEqual(kind.options, ["circles", "squares", "bars"]);
  const title = channels.find((c) => c.path === "System.Output.Title")!;
  assert.equal(title.default, 'SpaceMusic demo, "night set"', "quoted comma and quotes");
  assert.deepEqual(channels.find((c) => c.path === "Camera.Orbit.Position")!.default, [0, 1.5, -6]);
  assert.equal(channels.find((c) => c.path === "Audio.Analysis.Level")!.readOnly, true);
});

Deno.test("spec: bad rows are skipped and reported with their line; good rows still load", () => {
  const { channels, errors } = parseSpecCsv(read("./fixtures/spec_bad_rows.csv"));
  assert.deepEqual(channels.map((c) => c.path), ["Good.One", "Good.Two", "Good.Three"]);
  assert.equal(channels[1].default, "multi\nline text, with comma");
  const byLine = new Map(errors.map((e) => [e.line, e.message]));
  const expected: [number, RegExp][] = [
    [3, /type "number" is not one of/],
    [4, /min 2 is greater than max 1/],
    [5, /not an integer/],
    [8, /path "bad path!"/],
    [9, /enum needs options/],
    [10, /repeats an earlier row/],
    [11, /needs 3 numbers/],
    [12, /not a colour/],
    [13, /min "zero" is not a number/],
    [14, /14 fields but the header has 13/],
    [15, /readonly "maybe"/],
  ];
  for (const [line, re] of expected) {
    assert.match(byLine.get(line) ?? "(no error)", re, `line ${line}`);
  }
  assert.equal(errors.length, expected.length, JSON.stringify(errors, null, 1));
});

Deno.test("spec: an empty file is reported, not thrown", () => {
  const { channels, errors } = parseSpecCsv(read("./fixtures/spec_empty.csv"));
  assert.deepEqual(channels, []);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].line, 1);
  assert.match(errors[0].message, /empty/);
  assert.match(parseSpecCsv("\n\n# only a comment\n").errors[0].message, /empty/);
  assert.match(parseSpecCsv("label,group\nx,y\n").errors[0].message, /no "path" column/);
});

Deno.test("spec: BOM, CRLF, comments, quoted quotes, case-insensitive headers", () => {
  const { channels, errors } = parseSpecCsv(read("./fixtures/spec_bom_crlf.csv"));
  assert.deepEqual(errors, []);
  assert.deepEqual(channels.map((c) => c.path), ["A.Kind", "A.Tint"]);
  assert.equal(channels[0].label, 'Kind, "quoted"');
  assert.equal(channels[0].default, "b");
  assert.equal(channels[1].default, "#ffaa00", "colours normalised to lowercase");
  assert.equal(channels[1].group, "General", "missing group defaults");
});

Deno.test("spec: an unterminated quote is reported at the line it opens", () => {
  const { channels, errors } = parseSpecCsv(
    'path,type,label\nA.b,float,ok\nA.c,float,"open\nnever closed\n',
  );
  assert.deepEqual(channels.map((c) => c.path), ["A.b"]);
  assert.deepEqual(errors.map((e) => e.line), [3]);
  assert.match(errors[0].message, /unterminated/);
});

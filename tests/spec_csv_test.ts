/** The parameter spec CSV: the shipped sample, bad rows by line, empty, quoting/BOM/CRLF, damage. */
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
    'path,type,label\nA.b,float,ok\nA.c,float,"open\nnever closed\nA.d,int,fine\n',
  );
  assert.deepEqual(channels.map((c) => c.path), ["A.b", "A.d"]);
  // The line after the stray quote is read as a row of its own (and is not one).
  assert.deepEqual(errors.map((e) => e.line), [3, 4]);
  assert.match(errors[0].message, /unbalanced quote: the quoted label is not closed/);
  assert.match(errors[1].message, /path "never closed"/);
});

Deno.test("spec: a stray quote is reported where it opens and does not swallow the next rows", () => {
  const csv = [
    "path,type,label,group,page,min,max,step,default,unit,options,readonly,description",
    'A.one,float,"Bad label,G,P', // line 2: the quote never closes on its line
    "A.two,float,Two,G,P",
    'A.three,float,"Three",G,P',
    'A.four,float,"Fo"ur,G,P', // line 5: text after a closing quote
    'A.five,float,Five,G,P,,,,,,,,"desc', // line 6: description may span lines, but not forever
    "A.six,float,Six,G,P",
    "A.seven,float,Seven,G,P",
  ].join("\n");
  const { channels, errors } = parseSpecCsv(csv);
  assert.deepEqual(channels.map((c) => c.path), ["A.two", "A.three", "A.six", "A.seven"]);
  assert.deepEqual(errors.map((e) => e.line), [2, 5, 6], JSON.stringify(errors));
  assert.match(errors[0].message, /quote.*not closed/);
  assert.match(errors[1].message, /after the closing quote/);
  assert.match(errors[2].message, /never closed/);
});

Deno.test("spec: a multi-line description or default loads, bounded in lines", () => {
  const head = "path,type,label,default,description";
  const ok = parseSpecCsv(`${head}\nA.a,string,A,"two\nlines","help\r\ntext"\nA.b,int,B,,\n`);
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.channels.map((c) => [c.path, c.default, c.description]), [
    ["A.a", "two\nlines", "help\ntext"],
    ["A.b", 0, undefined],
  ]);
  const long = Array.from({ length: 12 }, (_, i) => `l${i}`).join("\n");
  const { channels, errors } = parseSpecCsv(`${head}\nA.a,string,A,,"${long}"\nA.b,int,B,,\n`);
  assert.deepEqual(errors.map((e) => e.line).slice(0, 1), [2]);
  assert.match(errors[0].message, /more than 10 lines/);
  assert.ok(channels.some((c) => c.path === "A.b"), "rows after the bad field still load");
});

Deno.test("spec: invalid UTF-8, NUL and control characters are bad rows at their exact line", () => {
  const enc = new TextEncoder();
  const bytes = (...parts: (string | number[])[]) =>
    new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc.encode(p)] : p));
  const spec = bytes(
    "path,type,label,group,page,default,description\n", // 1
    "A.one,float,One,G,P,,\n", // 2
    "A.two,float,T",
    [0xff, 0xfe],
    "o,G,P,,\n", // 3: invalid UTF-8 in the label
    "A.three,float,Three,G,P,,\n", // 4
    "A.four,float,Fo\u0000ur,G,P,,\n", // 5: NUL in the label
    "A.five,float,Five,G\u0007,P,,\n", // 6: BEL in the group
    'A.six,string,Six,G,P,,"ok\n', // 7
    'bad \u0001 here",\n', // 8: control character in a multi-line description
    "A.seven,float,Seven,G,P,,tab\tis fine in a description\n", // 9
    "A.eight,float,Eight,G,P\u007f,,\n", // 10: DEL in the page
    "A.nine,float,Ni",
    [0xc3],
    "ne,G,P,,\n", // 11: truncated UTF-8 sequence
  );
  const { channels, errors } = parseSpecCsv(spec);
  assert.deepEqual(channels.map((c) => c.path), ["A.one", "A.three", "A.seven"]);
  assert.deepEqual(errors.map((e) => e.line), [3, 5, 6, 8, 10, 11], JSON.stringify(errors));
  assert.match(errors[0].message, /label.*invalid UTF-8/);
  assert.match(errors[1].message, /label.*U\+0000/);
  assert.match(errors[2].message, /group.*U\+0007/);
  assert.match(errors[3].message, /description.*U\+0001/);
  assert.match(errors[4].message, /page.*U\+007F/);
  assert.match(errors[5].message, /label.*invalid UTF-8/);
  // The same file read leniently (U+FFFD in place of bad bytes) is refused the same way.
  const lenient = parseSpecCsv(new TextDecoder().decode(spec));
  assert.deepEqual(lenient.errors.map((e) => e.line), [3, 5, 6, 8, 10, 11]);
});

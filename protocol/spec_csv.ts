/**
 * Parameter spec CSV → channel metadata (runtime-neutral).
 *
 * One row per parameter, first row is the header. Columns (order free, names case-insensitive):
 *   path, type, label, group, page, min, max, step, default, unit, options, readonly, description
 * Only `path` and `type` are required. `options` (enum) are separated by `|`; vector defaults by
 * `;` (e.g. `0.5;0.5`); colours are `#rrggbb` or `#rrggbbaa`; readonly is true/false/yes/no/1/0.
 * RFC 4180 quoting ("a ""b"", c"), a UTF-8 BOM, CRLF or LF, blank lines and lines starting with `#`
 * (comments) are accepted. A bad row is skipped and reported with its 1-based line number; the
 * other rows still load, so one typo does not take the whole UI down.
 *
 * Damage stays local (a spec is hand-edited and exported from spreadsheets, so a stray `"` is the
 * likeliest typo): only a quoted `default` or `description` may span lines, and at most
 * MAX_QUOTED_LINES of them; a quote still open where that is not allowed, or text after a closing
 * quote, makes the row bad — reported at the line where the quote opens — and reading resumes on
 * the next physical line, so the rows a stray quote would have swallowed still load. Invalid
 * UTF-8, U+FFFD and control characters (NUL, BEL, DEL, C1; tab and line breaks only inside a
 * default or description) make a row bad at the exact line they are on.
 */
import {
  CHANNEL_PATH_RE,
  type ChannelMeta,
  isWellFormedText,
  type ParamValue,
  VALUE_TYPES,
  type ValueType,
} from "./params.ts";

export interface SpecError {
  line: number;
  message: string;
}

export interface ParsedSpec {
  channels: ChannelMeta[];
  /** Rows that were skipped (or a file that could not be read at all). */
  errors: SpecError[];
  /** Harmless oddities, e.g. unknown columns (ignored). */
  warnings: SpecError[];
}

/** How many physical lines a quoted default or description may span. */
export const MAX_QUOTED_LINES = 10;
/** Columns whose quoted text may hold line breaks (and tabs): free text, not names. */
const MULTILINE_COLUMNS = ["default", "description"];

interface Row {
  line: number;
  fields: string[];
  /** Line each field starts on (a multi-line field's later lines follow from its "\n"s). */
  fieldLines: number[];
}

interface Lines {
  lines: string[];
  /** 1-based numbers of the lines that were not valid UTF-8 (bytes input only). */
  badUtf8: Set<number>;
}

const BREAK = /\r\n|\n|\r/;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Physical lines of the file. Bytes are decoded strictly, line by line when the whole file is not
 * UTF-8, so each bad line is known by number (its bad bytes become U+FFFD, which the row check
 * then refuses) instead of loading silently as replacement characters.
 */
function toLines(input: string | Uint8Array): Lines {
  const badUtf8 = new Set<number>();
  if (typeof input === "string") {
    return { lines: input.replace(/^\ufeff/, "").split(BREAK), badUtf8 };
  }
  let b = input;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  try {
    return { lines: strict.decode(b).split(BREAK), badUtf8 };
  } catch { /* find the bad lines below */ }
  const lines: string[] = [];
  let from = 0;
  for (let i = 0; i <= b.length; i++) {
    const end = i === b.length;
    if (!end && b[i] !== 0x0a && b[i] !== 0x0d) continue;
    const bytes = b.subarray(from, i);
    try {
      lines.push(strict.decode(bytes));
    } catch {
      badUtf8.add(lines.length + 1);
      lines.push(lenient.decode(bytes));
    }
    if (!end && b[i] === 0x0d && b[i + 1] === 0x0a) i++;
    from = i + 1;
  }
  return { lines, badUtf8 };
}

type RecordResult = { row: Row; next: number } | { error: SpecError; next: number };

/**
 * Reads the record starting at line index `li` (0-based). `multiline(col)` says whether a quoted
 * field in that column may continue on the next line. On a quoting error the record is given up
 * and reading resumes right after the line where the offending quote opened.
 */
function readRecord(
  lines: string[],
  li: number,
  multiline: (col: number) => boolean,
  name: (col: number) => string,
): RecordResult {
  const line = li + 1;
  const fields: string[] = [];
  const fieldLines: number[] = [];
  let s = lines[li];
  let pos = 0;
  for (;;) {
    const col = fields.length;
    fieldLines.push(li + 1);
    const lead = /^[ \t]*"/.exec(s.slice(pos));
    if (!lead) {
      const comma = s.indexOf(",", pos);
      fields.push(s.slice(pos, comma < 0 ? s.length : comma));
      if (comma < 0) return { row: { line, fields, fieldLines }, next: li + 1 };
      pos = comma + 1;
      continue;
    }
    const open = li;
    const bad = (message: string): RecordResult => ({
      error: { line: open + 1, message },
      next: open + 1,
    });
    pos += lead[0].length;
    let value = "";
    for (;;) {
      const q = s.indexOf('"', pos);
      if (q < 0) {
        if (!multiline(col)) {
          return bad(
            `unbalanced quote: the quoted ${name(col)} is not closed on this line ` +
              `(only ${MULTILINE_COLUMNS.join(" and ")} may span lines)`,
          );
        }
        if (li + 1 >= lines.length) return bad(`the quoted ${name(col)} is never closed`);
        if (li - open + 1 >= MAX_QUOTED_LINES) {
          return bad(
            `the quoted ${name(col)} runs on for more than ${MAX_QUOTED_LINES} lines ` +
              `without a closing quote (a stray "?)`,
          );
        }
        value += s.slice(pos) + "\n";
        s = lines[++li];
        pos = 0;
        continue;
      }
      value += s.slice(pos, q);
      pos = q + 1;
      if (s[pos] !== '"') break;
      value += '"'; // "" inside quotes is one quote
      pos++;
    }
    fields.push(value);
    while (s[pos] === " " || s[pos] === "\t") pos++;
    if (pos >= s.length) return { row: { line, fields, fieldLines }, next: li + 1 };
    if (s[pos] !== ",") {
      return bad(
        `unexpected text after the closing quote of the quoted ${name(col)}` +
          (li !== open ? ` (closed on line ${li + 1}: a stray "?)` : ""),
      );
    }
    pos++;
  }
}

/** Splits CSV into records; `header` (column names, once known) decides which may span lines. */
function readRecords(input: string | Uint8Array) {
  const { lines, badUtf8 } = toLines(input);
  const rows: Row[] = [];
  const errors: SpecError[] = [];
  let header: string[] | null = null;
  const multiline = (col: number) => header !== null && MULTILINE_COLUMNS.includes(header[col]);
  const name = (col: number) => header?.[col] || `column ${col + 1}`;
  for (let li = 0; li < lines.length;) {
    const t = lines[li].trimStart();
    if (t === "" || t.startsWith("#")) {
      li++;
      continue;
    }
    const r = readRecord(lines, li, multiline, name);
    li = r.next;
    if ("error" in r) errors.push(r.error);
    else {
      rows.push(r.row);
      header ??= r.row.fields.map((h) => h.trim().toLowerCase());
    }
  }
  return { rows, errors, badUtf8 };
}

const hex = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Refuses characters that have no business in a spec: control characters (tab and line breaks
 * only in free text), U+FFFD (invalid UTF-8 that was replaced) and lone surrogates. Reports the
 * physical line the character is on.
 */
function checkText(row: Row, header: string[], badUtf8: Set<number>): SpecError | null {
  for (let i = 0; i < row.fields.length; i++) {
    const f = row.fields[i];
    const col = header[i] || `column ${i + 1}`;
    const free = MULTILINE_COLUMNS.includes(header[i]);
    let line = row.fieldLines[i];
    for (let k = 0; k < f.length; k++) {
      const c = f.charCodeAt(k);
      if (c === 0x0a && free) {
        line++;
        continue;
      }
      if (c === 0xfffd) {
        const why = badUtf8.has(line)
          ? "invalid UTF-8"
          : "U+FFFD (a replacement character: was the file read from invalid UTF-8?)";
        return { line, message: `${col} holds ${why}` };
      }
      if ((c < 0x20 && !(c === 0x09 && free)) || (c >= 0x7f && c <= 0x9f)) {
        return { line, message: `${col} holds the control character ${hex(c)}` };
      }
    }
    if (!isWellFormedText(f)) return { line, message: `${col} holds a lone surrogate` };
  }
  return null;
}

const COLUMNS = [
  "path",
  "type",
  "label",
  "group",
  "page",
  "min",
  "max",
  "step",
  "default",
  "unit",
  "options",
  "readonly",
  "description",
] as const;
type Column = typeof COLUMNS[number];

function num(s: string, what: string): number | undefined {
  if (s === "") return undefined;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`${what} "${s}" is not a number`);
  return v;
}

function bool(s: string, what: string): boolean {
  const l = s.toLowerCase();
  if (["", "false", "no", "0"].includes(l)) return false;
  if (["true", "yes", "1"].includes(l)) return true;
  throw new Error(`${what} "${s}" is not true/false`);
}

function parseDefault(m: ChannelMeta, s: string): ParamValue {
  const t = m.type;
  const clampMin = m.min ?? 0;
  switch (t) {
    case "float":
    case "int": {
      const v = s === "" ? Math.max(clampMin, Math.min(0, m.max ?? 0)) : num(s, "default")!;
      if (t === "int" && !Number.isInteger(v)) throw new Error(`default "${s}" is not an integer`);
      return v;
    }
    case "bool":
      return bool(s, "default");
    case "trigger":
      if (s !== "" && s !== "0") throw new Error("a trigger has no default (leave it empty)");
      return 0;
    case "string":
      return s;
    case "enum":
      if (s === "") return m.options![0];
      if (!m.options!.includes(s)) {
        throw new Error(`default "${s}" is not one of the options ${m.options!.join("|")}`);
      }
      return s;
    case "color": {
      const c = s === "" ? "#ffffff" : s.toLowerCase();
      if (!/^#[0-9a-f]{6}([0-9a-f]{2})?$/.test(c)) {
        throw new Error(`default "${s}" is not a colour #rrggbb or #rrggbbaa`);
      }
      return c;
    }
    case "vec2":
    case "vec3":
    case "vec4": {
      const n = Number(t[3]);
      if (s === "") return new Array(n).fill(Math.max(clampMin, Math.min(0, m.max ?? 0)));
      const parts = s.split(/[;\s]+/).filter((p) => p !== "");
      if (parts.length !== n) throw new Error(`default "${s}" needs ${n} numbers separated by ;`);
      return parts.map((p) => num(p, "default component")!);
    }
  }
}

function checkRange(m: ChannelMeta): void {
  if (m.min !== undefined && m.max !== undefined && m.min > m.max) {
    throw new Error(`min ${m.min} is greater than max ${m.max}`);
  }
  const d = m.default;
  const comps = Array.isArray(d) ? d : typeof d === "number" && m.type !== "trigger" ? [d] : [];
  for (const c of comps) {
    if ((m.min !== undefined && c < m.min) || (m.max !== undefined && c > m.max)) {
      throw new Error(`default ${c} is outside min..max ${m.min ?? "-∞"}..${m.max ?? "∞"}`);
    }
  }
}

function rowToMeta(get: (c: Column) => string): ChannelMeta {
  const path = get("path");
  if (!CHANNEL_PATH_RE.test(path)) {
    throw new Error(`path "${path}" is not a channel path (letters, digits, _ . : / -; ≤128)`);
  }
  const type = get("type").toLowerCase() as ValueType;
  if (!VALUE_TYPES.includes(type)) {
    throw new Error(`type "${get("type")}" is not one of ${VALUE_TYPES.join(", ")}`);
  }
  const m: ChannelMeta = {
    path,
    type,
    label: get("label") || path.slice(path.lastIndexOf(".") + 1),
    group: get("group") || "General",
    page: get("page") || "Main",
    default: 0,
  };
  const min = num(get("min"), "min");
  const max = num(get("max"), "max");
  const step = num(get("step"), "step");
  if (min !== undefined) m.min = min;
  if (max !== undefined) m.max = max;
  if (step !== undefined) {
    if (step <= 0) throw new Error(`step ${step} must be > 0`);
    m.step = step;
  }
  if (get("unit")) m.unit = get("unit");
  if (type === "enum") {
    const opts = get("options").split("|").map((o) => o.trim()).filter((o) => o !== "");
    if (opts.length === 0) throw new Error("an enum needs options, e.g. circles|squares|bars");
    if (new Set(opts).size !== opts.length) throw new Error("enum options repeat a value");
    m.options = opts;
  } else if (get("options")) {
    throw new Error(`options are only for enum, not ${type}`);
  }
  if (bool(get("readonly"), "readonly")) m.readOnly = true;
  if (get("description")) m.description = get("description");
  m.default = parseDefault(m, get("default"));
  checkRange(m);
  return m;
}

/**
 * Parses a spec CSV: text, or bytes (preferred: invalid UTF-8 is then reported by line). Never
 * throws: problems are returned in `errors` with their line.
 */
export function parseSpecCsv(input: string | Uint8Array): ParsedSpec {
  const { rows, errors, badUtf8 } = readRecords(input);
  const channels: ChannelMeta[] = [];
  const warnings: SpecError[] = [];
  if (rows.length === 0) {
    errors.push({ line: 1, message: "spec is empty: expected a header row (path,type,...)" });
    return { channels, errors, warnings };
  }
  const header = rows[0].fields.map((h) => h.trim().toLowerCase());
  const index = new Map<string, number>();
  header.forEach((h, i) => index.set(h, i));
  for (const need of ["path", "type"]) {
    if (!index.has(need)) {
      errors.push({ line: rows[0].line, message: `header has no "${need}" column` });
      return { channels, errors, warnings };
    }
  }
  for (const h of header) {
    if (!(COLUMNS as readonly string[]).includes(h)) {
      warnings.push({ line: rows[0].line, message: `unknown column "${h}" ignored` });
    }
  }
  const seen = new Set<string>();
  for (const row of rows.slice(1)) {
    const get = (c: Column) => {
      const i = index.get(c);
      return i === undefined ? "" : (row.fields[i] ?? "").trim();
    };
    const bad = checkText(row, header, badUtf8);
    if (bad) {
      errors.push(bad);
      continue;
    }
    try {
      if (row.fields.length > header.length) {
        throw new Error(`${row.fields.length} fields but the header has ${header.length}`);
      }
      const m = rowToMeta(get);
      if (seen.has(m.path)) throw new Error(`path "${m.path}" repeats an earlier row`);
      seen.add(m.path);
      channels.push(m);
    } catch (e) {
      errors.push({ line: row.line, message: (e as Error).message });
    }
  }
  // Quoting errors are found while reading, row errors after: report in file order.
  errors.sort((a, b) => a.line - b.line);
  return { channels, errors, warnings };
}

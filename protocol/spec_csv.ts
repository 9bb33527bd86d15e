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
 */
import {
  CHANNEL_PATH_RE,
  type ChannelMeta,
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

interface Row {
  line: number;
  fields: string[];
}

/** Splits CSV text into records, remembering the line each record starts on. */
export function splitCsv(text: string): { rows: Row[]; errors: SpecError[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: Row[] = [];
  const errors: SpecError[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quotedOpen = false;
    for (;;) {
      if (i >= n) break;
      const c = text[i];
      if (quotedOpen) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quotedOpen = false;
            i++;
          }
        } else {
          if (c === "\n") line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === '"' && field.trim() === "") {
        field = "";
        quotedOpen = true;
        i++;
      } else if (c === ",") {
        fields.push(field);
        field = "";
        i++;
      } else if (c === "\r" || c === "\n") {
        i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
        line++;
        break;
      } else {
        field += c;
        i++;
      }
    }
    if (quotedOpen) {
      errors.push({ line: start, message: 'unterminated quoted field (missing closing ")' });
      break;
    }
    fields.push(field);
    const blank = fields.length === 1 && fields[0].trim() === "";
    if (!blank && !fields[0].trimStart().startsWith("#")) rows.push({ line: start, fields });
  }
  return { rows, errors };
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

/** Parses a spec CSV. Never throws: problems are returned in `errors` with their line. */
export function parseSpecCsv(text: string): ParsedSpec {
  const { rows, errors } = splitCsv(text);
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
  return { channels, errors, warnings };
}

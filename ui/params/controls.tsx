/**
 * One row per channel. Every value shown is the mirror's (the engine's echo); a user action only
 * sends a write. While a slider or colour is being dragged the thumb stays under the finger
 * (the input is left alone) but the number beside it still shows the mirror; when the drag ends
 * the input snaps to the mirror. Text fields are not overwritten while they have focus.
 */
import { useSignal } from "@preact/signals";
import { useLayoutEffect, useRef } from "preact/hooks";
import type { ChannelMeta, ParamSource, ParamValue } from "../transport/types.ts";
import { formatNumber, hasSlider, stepOf } from "./model.ts";

interface Props {
  meta: ChannelMeta;
  src: ParamSource;
}

type Write = (v: ParamValue) => void;

function useWrite(src: ParamSource, path: string): [Write, string] {
  const error = useSignal("");
  const write: Write = (v) => {
    src.write(path, v).then(
      () => {
        if (error.peek()) error.value = "";
      },
      (e: Error) => {
        error.value = e.message;
      },
    );
  };
  return [write, error.value];
}

/** Keeps an uncontrolled input showing `text` except while `busy()` says the user has it. */
function useSynced(
  ref: { current: HTMLInputElement | null },
  text: string,
  busy: () => boolean,
): () => void {
  const sync = () => {
    const el = ref.current;
    if (el && !busy() && el.value !== text) el.value = text;
  };
  useLayoutEffect(sync, [text]);
  return sync;
}

function isFocused(el: Element | null): boolean {
  return !!el && document.activeElement === el;
}

function parseNumber(s: string, meta: ChannelMeta): number | null {
  const n = Number(s.trim().replace(",", "."));
  if (s.trim() === "" || !Number.isFinite(n)) return null;
  return meta.type === "int" ? Math.round(n) : n;
}

/** A number field showing the mirror; commits on Enter or blur. */
function NumberField(
  { meta, value, onCommit, label }: {
    meta: ChannelMeta;
    value: unknown;
    onCommit: (n: number) => void;
    label?: string;
  },
) {
  const ref = useRef<HTMLInputElement>(null);
  const text = typeof value === "number" ? formatNumber(value, meta) : "";
  const sync = useSynced(ref, text, () => isFocused(ref.current));
  return (
    <input
      ref={ref}
      class="num"
      type="text"
      inputMode="decimal"
      aria-label={label ?? meta.label}
      disabled={meta.readOnly}
      data-testid="param-number"
      onChange={(e) => {
        const n = parseNumber(e.currentTarget.value, meta);
        if (n !== null) onCommit(n);
      }}
      onKeyDown={(e) => {
        if (e.key === "Enter") e.currentTarget.blur();
        if (e.key === "Escape") {
          e.currentTarget.value = text;
          e.currentTarget.blur();
        }
      }}
      onBlur={() => setTimeout(sync)}
    />
  );
}

function NumberControl({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  const ref = useRef<HTMLInputElement>(null);
  const dragging = useRef(false);
  const slider = hasSlider(meta);
  const sync = useSynced(
    ref,
    String(typeof v === "number" ? v : meta.default),
    () => dragging.current,
  );
  const end = () => {
    dragging.current = false;
    sync();
  };
  return (
    <>
      {slider && (
        <input
          ref={ref}
          type="range"
          class="slider"
          min={meta.min}
          max={meta.max}
          step={stepOf(meta)}
          disabled={meta.readOnly}
          aria-label={meta.label}
          data-testid="param-slider"
          onPointerDown={() => (dragging.current = true)}
          onInput={(e) => {
            dragging.current = true;
            const n = Number(e.currentTarget.value);
            write(meta.type === "int" ? Math.round(n) : n);
          }}
          onChange={end}
          onPointerUp={end}
          onPointerCancel={end}
          onBlur={end}
        />
      )}
      <NumberField meta={meta} value={v} onCommit={write} />
    </>
  );
}

function Toggle({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value === true;
  return (
    <label class="switch">
      <input
        type="checkbox"
        role="switch"
        checked={v}
        disabled={meta.readOnly}
        aria-label={meta.label}
        data-testid="param-toggle"
        onChange={(e) => {
          const want = e.currentTarget.checked;
          e.currentTarget.checked = v; // the echo flips it, not the click
          write(want);
        }}
      />
      <span class="switch-track" aria-hidden="true" />
    </label>
  );
}

function Enum({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  return (
    <select
      value={typeof v === "string" ? v : ""}
      disabled={meta.readOnly}
      aria-label={meta.label}
      data-testid="param-enum"
      onChange={(e) => {
        const want = e.currentTarget.value;
        e.currentTarget.value = typeof v === "string" ? v : "";
        write(want);
      }}
    >
      {typeof v !== "string" && <option value="" disabled>–</option>}
      {(meta.options ?? []).map((o) => <option key={o} value={o}>{o}</option>)}
    </select>
  );
}

function Colour({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  const hex = typeof v === "string" ? v : String(meta.default ?? "#000000");
  const ref = useRef<HTMLInputElement>(null);
  const picking = useRef(false);
  const sync = useSynced(ref, hex.slice(0, 7).toLowerCase(), () => picking.current);
  const alpha = hex.length === 9 ? hex.slice(7) : "";
  return (
    <>
      <input
        ref={ref}
        type="color"
        class="colour"
        disabled={meta.readOnly}
        aria-label={meta.label}
        data-testid="param-colour"
        onInput={(e) => {
          picking.current = true;
          write(e.currentTarget.value.toLowerCase() + alpha);
        }}
        onChange={() => {
          picking.current = false;
          sync();
        }}
        onBlur={() => {
          picking.current = false;
          sync();
        }}
      />
      <span class="hex">{hex}</span>
    </>
  );
}

function Text({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  const ref = useRef<HTMLInputElement>(null);
  const text = typeof v === "string" ? v : "";
  const sync = useSynced(ref, text, () => isFocused(ref.current));
  return (
    <input
      ref={ref}
      type="text"
      class="text"
      disabled={meta.readOnly}
      aria-label={meta.label}
      data-testid="param-text"
      onChange={(e) => write(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") e.currentTarget.blur();
        if (e.key === "Escape") {
          e.currentTarget.value = text;
          e.currentTarget.blur();
        }
      }}
      onBlur={() => setTimeout(sync)}
    />
  );
}

function Trigger({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  return (
    <>
      <button
        type="button"
        class="trigger"
        disabled={meta.readOnly}
        data-testid="param-trigger"
        onClick={() => write(true)}
      >
        {meta.label}
      </button>
      <span class="count" title="times fired">{typeof v === "number" ? v : 0}</span>
    </>
  );
}

const AXES = ["x", "y", "z", "w"];

function Vector({ meta, src, write }: Props & { write: Write }) {
  const v = src.value(meta.path).value;
  const n = meta.type === "vec2" ? 2 : meta.type === "vec3" ? 3 : 4;
  const cur = Array.isArray(v) && v.length === n ? v : null;
  return (
    <div class="vec" data-testid="param-vector">
      {AXES.slice(0, n).map((axis, i) => (
        <NumberField
          key={axis}
          meta={meta}
          label={`${meta.label} ${axis}`}
          value={cur?.[i]}
          onCommit={(x) => {
            const base = src.value(meta.path).peek();
            const arr = Array.isArray(base) && base.length === n
              ? base.slice()
              : (Array.isArray(meta.default) ? meta.default.slice() : new Array(n).fill(0));
            arr[i] = x;
            write(arr);
          }}
        />
      ))}
    </div>
  );
}

function Body(p: Props & { write: Write }) {
  switch (p.meta.type) {
    case "float":
    case "int":
      return <NumberControl {...p} />;
    case "bool":
      return <Toggle {...p} />;
    case "enum":
      return <Enum {...p} />;
    case "color":
      return <Colour {...p} />;
    case "string":
      return <Text {...p} />;
    case "trigger":
      return <Trigger {...p} />;
    case "vec2":
    case "vec3":
    case "vec4":
      return <Vector {...p} />;
  }
}

export function ParamRow({ meta, src }: Props) {
  const [write, error] = useWrite(src, meta.path);
  const v = src.value(meta.path).value;
  return (
    <div
      class={`param param-${meta.type}${meta.readOnly ? " ro" : ""}${error ? " has-error" : ""}`}
      data-param={meta.path}
      data-type={meta.type}
      data-value={v === undefined ? "" : JSON.stringify(v)}
      data-testid="param"
      title={meta.description}
    >
      <span class="param-label">
        {meta.type === "trigger" ? "" : meta.label}
        {meta.unit && <span class="unit">{meta.unit}</span>}
      </span>
      <div class="param-control">
        <Body meta={meta} src={src} write={write} />
      </div>
      {error && <div class="param-error" role="alert" data-testid="param-error">{error}</div>}
    </div>
  );
}

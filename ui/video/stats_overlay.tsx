/** Per-tile numbers, refreshed four times a second while shown (never on the frame path). */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { TileSnapshot, TileStats } from "./stats.ts";

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

export function StatsOverlay({ stats }: { stats: { current: TileStats | null } }) {
  const snap = useSignal<TileSnapshot | null>(null);
  useEffect(() => {
    const tick = () => {
      snap.value = stats.current?.snapshot() ?? null;
    };
    tick();
    const t = setInterval(tick, 250);
    return () => clearInterval(t);
  }, [stats]);
  const s = snap.value;
  if (!s) return null;
  return (
    <dl class="stats" data-testid="tile-stats">
      <dt>fps</dt>
      <dd data-stat="fps">{s.fps}</dd>
      <dt>g2g</dt>
      <dd data-stat="g2g">{fmt(s.g2gP50)} / {fmt(s.g2gP95)} ms</dd>
      <dt>enc·net·dec·draw</dt>
      <dd data-stat="stages">
        {fmt(s.encodeMs)} · {fmt(s.transferMs)} · {fmt(s.decodeMs)} · {fmt(s.drawMs)} ms
      </dd>
      <dt>bitrate</dt>
      <dd data-stat="bitrate">{fmt(s.bitrate / 1e6, 2)} Mb/s</dd>
      <dt>queue</dt>
      <dd data-stat="queue">{s.decodeQueue}</dd>
      <dt>size</dt>
      <dd data-stat="rendition">{s.rendition || `${s.codedWidth}×${s.codedHeight}`}</dd>
      {s.limited && (
        <>
          <dt>limited</dt>
          <dd data-stat="limited" class="limited">{s.limited}</dd>
        </>
      )}
      <dt>encoder</dt>
      <dd data-stat="encoder">{s.encoder || "–"}</dd>
      <dt>decoder</dt>
      <dd data-stat="path">{s.path || "–"} · {s.codec || "–"}</dd>
      {s.link && (
        <>
          <dt>net</dt>
          <dd data-stat="link" title={s.link.feed}>
            {s.link.path} · rtt {fmt(s.link.rttMs, 0)} ms · lost {s.link.packetsLost} · jitter{" "}
            {fmt(s.link.jitterMs)} ms
          </dd>
        </>
      )}
      <dt>drops</dt>
      <dd>{s.droppedBeforeDecode} + {s.droppedUndrawn} · idr {s.keyframeRequests}</dd>
    </dl>
  );
}

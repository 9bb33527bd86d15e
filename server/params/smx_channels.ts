/**
 * The `Smx.*` channels are smx's own writes to the engine (the pairing QR, its URL with the
 * pairing secret, the code: docs/engine-protocol.md §9). Browsers never see them and never write
 * them: a paired LAN device must not read the secret it could hand on, nor put its own QR on the
 * performer's screen.
 */
import type { DeltaMsg, SnapshotMsg } from "../../protocol/params.ts";
import { isSmxChannel, SMX_CHANNEL_PREFIX } from "../engine/pairing_channels.ts";

export { isSmxChannel };

/** The snapshot without smx's own channels (a copy when it had any). */
export function snapshotForBrowsers(s: SnapshotMsg): SnapshotMsg {
  if (!s.channels.some((c) => isSmxChannel(c.path))) return s;
  const values: SnapshotMsg["values"] = {};
  for (const [k, v] of Object.entries(s.values)) if (!isSmxChannel(k)) values[k] = v;
  return { ...s, channels: s.channels.filter((c) => !isSmxChannel(c.path)), values };
}

const MARK = JSON.stringify(SMX_CHANNEL_PREFIX).slice(0, -1); // `"Smx.`: a cheap pre-check

/** What a browser gets in place of an smx channel's change (a path no browser store holds). */
export const REDACTED_PATH = "Smx";

/**
 * A delta as relayed to browsers: verbatim when it cannot hold an smx channel (the common case,
 * no parse), else re-encoded with each smx change replaced by a placeholder. The change count
 * stays: a delta's rev advances by its number of changes, and a browser that saw fewer would
 * take it for a gap and ask for a snapshot.
 */
export function deltaForBrowsers(raw: string): string {
  if (!raw.includes(MARK)) return raw;
  const d = JSON.parse(raw) as DeltaMsg;
  const changes = d.changes.slice();
  for (let i = 0; i + 1 < changes.length; i += 2) {
    if (isSmxChannel(changes[i] as string)) {
      changes[i] = REDACTED_PATH;
      changes[i + 1] = 0;
    }
  }
  return JSON.stringify({ ...d, changes });
}

/**
 * A remote page's `set`, applied the way a local one is: smx's own `Smx.*` channels are refused
 * (smx_channels.ts), then ParamMirror.write checks the value against the spec and forwards it, and
 * the answer is an `ack` at the engine's rev or an `error` with the mirror's code. The shape of
 * the message was already checked by params.ts's parser (via parseCtlMessage), so the rules are
 * the local ones end to end; only the addressing (`to`) is the WAN's.
 */
import { errorMsg, type LinkMsg, type SetMsg, type SnapshotMsg } from "../../../protocol/params.ts";
import type { ParamsChannelMsg } from "../../../protocol/wan.ts";
import { ParamWriteError } from "../../../protocol/params_client.ts";
import type { MirrorEvent } from "../../engine/param_mirror.ts";
import { isSmxChannel } from "../../params/smx_channels.ts";

/** What the relay needs of ParamMirror (which satisfies it as is). */
export interface RelayMirror {
  readonly link: LinkMsg;
  snapshot(): SnapshotMsg | null;
  subscribe(fn: (e: MirrorEvent) => void): () => void;
  write(path: string, value: unknown): Promise<{ rev: number }>;
}

/** The ack or error answering `m`, addressed to client `to`. Never rejects. */
export async function applyRemoteSet(
  mirror: RelayMirror,
  m: SetMsg,
  to: string,
): Promise<ParamsChannelMsg> {
  if (isSmxChannel(m.path)) {
    return {
      ...errorMsg({ code: "read_only", message: `${m.path} is written by smx only` }, m.id, m.path),
      to,
    };
  }
  try {
    const r = await mirror.write(m.path, m.value);
    return { v: 1, type: "ack", id: m.id, rev: r.rev, to };
  } catch (err) {
    const e = err instanceof ParamWriteError
      ? err
      : { code: "engine_offline" as const, message: String(err) };
    return { ...errorMsg({ code: e.code, message: e.message }, m.id, m.path), to };
  }
}

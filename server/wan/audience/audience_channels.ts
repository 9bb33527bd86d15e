/**
 * The audience as read-only channels in the engine's hub (issue 11), written like the pairing
 * channels (server/engine/pairing_channels.ts) through the mirror's validated write path, and only
 * where the engine's spec declares them:
 *
 *   Smx.Audience.Reactions  float  reactions per second over the last 2 s (all viewers)
 *   Smx.Audience.Viewers    int    viewers watching (Centrifugo presence of smx_aud:<engine>)
 *
 * `update()` is called once per batch interval (ReactionAggregator's onAggregate); a value equal
 * to the engine's is not written again, and at most one write per channel is in flight (a slow
 * engine gets the latest value, not a queue).
 */
import type { PairingMirror } from "../../engine/pairing_channels.ts";

export const AUDIENCE_CHANNELS = {
  reactions: "Smx.Audience.Reactions",
  viewers: "Smx.Audience.Viewers",
} as const;

export class AudienceChannels {
  #inFlight = new Set<string>();
  writes = 0;
  constructor(
    private mirror: PairingMirror,
    private log: (msg: string) => void = () => {},
  ) {}

  update(a: { rate: number; viewers: number | undefined }): void {
    if (this.mirror.state !== "connected") return;
    this.#write(AUDIENCE_CHANNELS.reactions, a.rate);
    if (a.viewers !== undefined) this.#write(AUDIENCE_CHANNELS.viewers, a.viewers);
  }

  #write(path: string, value: number) {
    const meta = this.mirror.meta(path);
    if (!meta || this.#inFlight.has(path)) return;
    const v = meta.type === "int" ? Math.round(value) : value;
    if (this.mirror.get(path) === v) return;
    this.#inFlight.add(path);
    this.writes++;
    this.mirror.write(path, v).then(
      () => {},
      (e) => this.log(`${path} not written: ${(e as Error).message}`),
    ).finally(() => this.#inFlight.delete(path));
  }
}

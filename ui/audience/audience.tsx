/**
 * The audience bar of the watch page (issue 11): how many are watching, the crowd's reactions as
 * they arrive (smx's batches on smx_aud:<engine>), six reaction buttons and an optional short text.
 * A reaction is a publish into smx_react:<engine> (no subscription needed; only smx reads it); the
 * text is checked here with the same rules smx applies (protocol/audience.ts) so a refusal is said
 * at once, and smx checks it again. Texts from others are rendered as text (never HTML), with
 * dir="auto" so right-to-left text shows as written.
 *
 * Mount: `mountAudience(el, {client, api, engine})` with the watch page's Centrifuge client
 * (VenueLink.client); returns the unmount.
 */
import { type ComponentChild, render } from "preact";
import { useEffect, useMemo } from "preact/hooks";
import { signal, useSignal } from "@preact/signals";
import type { Centrifuge, Subscription } from "centrifuge";
import {
  audienceChannel,
  checkReactionText,
  REACTION_IDS,
  type ReactionBatch,
  type ReactionId,
  REACTIONS,
} from "../../protocol/audience.ts";
import type { SiteApi } from "../transport/wan/site_api.ts";

export interface AudienceOptions {
  client: Centrifuge;
  api: Pick<SiteApi, "subscriptionToken">;
  engine: string;
}

interface Shown {
  key: number;
  emoji: string;
}

export class AudienceModel {
  readonly viewers = signal<number | null>(null);
  readonly rate = signal(0);
  readonly floating = signal<readonly Shown[]>([]);
  readonly texts = signal<readonly [string, string][]>([]);
  readonly notice = signal("");
  #sub: Subscription;
  #key = 0;
  constructor(private o: AudienceOptions) {
    const ch = audienceChannel("aud", o.engine);
    this.#sub = o.client.getSubscription(ch) ?? o.client.newSubscription(ch, {
      getToken: () => o.api.subscriptionToken(o.engine, ch),
    });
    this.#sub.on(
      "publication",
      (ctx) => this.#batch(ctx.data as ReactionBatch & { viewers?: number }),
    );
    this.#sub.subscribe();
  }

  #batch(b: ReactionBatch & { viewers?: number }) {
    if (!b || typeof b !== "object") return;
    if (typeof b.viewers === "number") this.viewers.value = b.viewers;
    if (typeof b.rate === "number") this.rate.value = b.rate;
    const add: Shown[] = [];
    for (const id of REACTION_IDS) {
      const n = Math.min(8, Number(b.n?.[id] ?? 0)); // a few each, not one per reaction
      for (let i = 0; i < n; i++) add.push({ key: this.#key++, emoji: REACTIONS[id] });
    }
    if (add.length) {
      this.floating.value = [...this.floating.value, ...add].slice(-40);
      setTimeout(() => {
        const gone = new Set(add.map((a) => a.key));
        this.floating.value = this.floating.value.filter((s) => !gone.has(s.key));
      }, 2500);
    }
    if (Array.isArray(b.t) && b.t.length) {
      this.texts.value = [
        ...this.texts.value,
        ...b.t.filter((t) =>
          Array.isArray(t) && typeof t[0] === "string" && typeof t[1] === "string"
        ),
      ].slice(-5);
    }
  }

  /** Sends a reaction (with an optional text); a refusal is shown, never thrown. */
  async send(r: ReactionId, text = ""): Promise<boolean> {
    let msg: { r: ReactionId; text?: string } = { r };
    if (text.trim()) {
      const t = checkReactionText(text);
      if (!t.ok) {
        this.notice.value = `Not sent: ${t.reason}`;
        return false;
      }
      msg = { r, text: t.text };
    }
    try {
      await this.o.client.publish(audienceChannel("react", this.o.engine), msg);
      this.notice.value = "";
      return true;
    } catch (e) {
      this.notice.value = `Not sent: ${(e as { message?: string }).message ?? String(e)}`;
      return false;
    }
  }

  close() {
    this.#sub.unsubscribe();
    this.o.client.removeSubscription(this.#sub);
  }
}

export function AudienceBar({ model }: { model: AudienceModel }) {
  const text = useSignal("");
  const v = model.viewers.value;
  return (
    <div class="audience-bar" data-testid="audience-bar">
      <span class="viewers" data-testid="audience-viewers">
        {v === null ? "" : `${v} watching`}
      </span>
      <span class="floating" aria-hidden="true">
        {model.floating.value.map((s) => <span key={s.key} class="float">{s.emoji}</span>)}
      </span>
      <span class="texts" data-testid="audience-texts">
        {model.texts.value.map(([who, t], i) => (
          <span key={i} class="text" dir="auto">
            <b>{who}</b> {t}
          </span>
        ))}
      </span>
      <span class="buttons">
        {REACTION_IDS.map((id) => (
          <button
            type="button"
            key={id}
            data-testid={`react-${id}`}
            title={id}
            onClick={async () => {
              if (await model.send(id, text.value)) text.value = "";
            }}
          >
            {REACTIONS[id]}
          </button>
        ))}
        <input
          type="text"
          dir="auto"
          maxLength={200}
          placeholder="Say something (optional)"
          data-testid="audience-text"
          onInput={(e) => (text.value = (e.target as HTMLInputElement).value)}
        />
      </span>
      {model.notice.value && <span class="notice" role="status">{model.notice.value}</span>}
    </div>
  );
}

/** Mounts the audience bar into `el`; returns the unmount. */
export function mountAudience(el: HTMLElement, o: AudienceOptions): () => void {
  const model = new AudienceModel(o);
  render(<AudienceBar model={model} />, el);
  return () => {
    render(null, el);
    model.close();
  };
}

/** What the watch page hands its extras (ui/watch/watch.tsx WatchContext, structurally). */
export interface AudienceContext {
  join: { engine: string };
  api: Pick<SiteApi, "subscriptionToken">;
  link: { client: Centrifuge };
}

function AudienceExtra({ ctx }: { ctx: AudienceContext }) {
  const model = useMemo(
    () => new AudienceModel({ client: ctx.link.client, api: ctx.api, engine: ctx.join.engine }),
    [ctx],
  );
  useEffect(() => () => model.close(), [model]);
  return <AudienceBar model={model} />;
}

/** The watch page's extra (`watchExtras.push(audienceExtra)`): the audience bar. */
export const audienceExtra = (ctx: AudienceContext): ComponentChild => (
  <AudienceExtra key="audience" ctx={ctx} />
);

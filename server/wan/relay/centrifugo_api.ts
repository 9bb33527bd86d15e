/**
 * Centrifugo's server HTTP API (`POST {apiUrl}/<method>` with `X-API-Key`), the only way smx
 * publishes: pages may not publish to smx_state / smx_params, so whatever arrives there came from
 * here. One dedicated HTTP client (its own keep-alive pool, closed on `close()` so nothing
 * lingers after a stop), a timeout on every call, and typed errors so callers can tell "Centrifugo
 * is down, retry later" from "this command is wrong, retrying will not help".
 *
 * Bodies are built as text: a delta from the engine is already JSON, and splicing it into the
 * command (`{"channel":…,"data":<raw>}`) saves a parse and a stringify per delta.
 */

/** Why a call failed: `timeout` / `network` / `http` 5xx are worth a retry, the rest are not. */
export type CentrifugoErrorKind = "timeout" | "network" | "http" | "api" | "closed";

export class CentrifugoApiError extends Error {
  constructor(
    readonly kind: CentrifugoErrorKind,
    message: string,
    /** HTTP status (kind `http`). */
    readonly status?: number,
    /** Centrifugo's error code (kind `api`), e.g. 102 unknown channel, 107 bad request. */
    readonly code?: number,
  ) {
    super(message);
    this.name = "CentrifugoApiError";
  }

  /** Worth retrying later (the server is away or overloaded), as opposed to a refused command. */
  get transient(): boolean {
    return this.kind === "timeout" || this.kind === "network" ||
      (this.kind === "http" && (this.status ?? 0) >= 500);
  }
}

export interface CentrifugoApiOptions {
  /** The API prefix, e.g. `http://127.0.0.1:8000/api` (methods are appended: `/publish`). */
  apiUrl: string;
  apiKey: string;
  /** Per call. Default 5000 ms: long enough for a loaded server, short enough to notice a stall. */
  timeoutMs?: number;
}

/** A presence entry (`presence` result), keyed by client id. */
export interface PresenceClient {
  client: string;
  user: string;
  conn_info?: unknown;
  chan_info?: unknown;
}

/** One reply of a `batch`: a result or an error, in command order. */
export interface BatchReply {
  error?: { code: number; message: string };
  [method: string]: unknown;
}

/** JSON text to splice into a body as is (already validated JSON, e.g. an engine delta). */
export class RawJson {
  constructor(readonly text: string) {}
}

const json = (v: unknown): string => v instanceof RawJson ? v.text : JSON.stringify(v);

/**
 * `{"publish":{"channel":…,"data":…,"tags":…}}`: one command of a batch. Tags are what a
 * subscriber's tags filter sees (namespaces with allow_tags_filter).
 */
export function publishCommand(
  channel: string,
  data: unknown,
  tags?: Record<string, string>,
): string {
  const t = tags ? `,"tags":${JSON.stringify(tags)}` : "";
  return `{"publish":{"channel":${JSON.stringify(channel)},"data":${json(data)}${t}}}`;
}

/** `{"disconnect":{…}}`: one command of a batch (see CentrifugoApi.disconnect for codes). */
export function disconnectCommand(user: string, client: string, code: number, reason: string) {
  return JSON.stringify({ disconnect: { user, client, disconnect: { code, reason } } });
}

export class CentrifugoApi {
  readonly #base: string;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #http = Deno.createHttpClient({});
  readonly #aborts = new Set<AbortController>();
  #closed = false;

  constructor(o: CentrifugoApiOptions) {
    if (!o.apiKey) throw new Error("Centrifugo API key missing");
    this.#base = o.apiUrl.replace(/\/+$/, "");
    this.#key = o.apiKey;
    this.#timeoutMs = o.timeoutMs ?? 5000;
  }

  /** Calls `method` with a JSON body (object, or RawJson text); resolves with `result`. */
  async call<T = unknown>(method: string, params: unknown): Promise<T> {
    return ((await this.#post(method, params)).result ?? {}) as T;
  }

  async #post(
    method: string,
    params: unknown,
  ): Promise<{ result?: unknown; replies?: BatchReply[] }> {
    if (this.#closed) throw new CentrifugoApiError("closed", "Centrifugo API client closed");
    const ac = new AbortController();
    this.#aborts.add(ac);
    const timer = setTimeout(
      () => ac.abort(new DOMException("timeout", "TimeoutError")),
      this.#timeoutMs,
    );
    let text: string;
    let status: number;
    try {
      const res = await fetch(`${this.#base}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": this.#key },
        body: json(params),
        signal: ac.signal,
        client: this.#http,
      });
      status = res.status;
      text = await res.text(); // always read: an unread body pins its connection
    } catch (e) {
      if (this.#closed) throw new CentrifugoApiError("closed", "Centrifugo API client closed");
      if (ac.signal.aborted) {
        throw new CentrifugoApiError("timeout", `${method}: no answer in ${this.#timeoutMs} ms`);
      }
      throw new CentrifugoApiError("network", `${method}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(ac);
    }
    if (status !== 200) {
      throw new CentrifugoApiError(
        "http",
        `${method}: HTTP ${status} ${text.slice(0, 200)}`,
        status,
      );
    }
    let body: {
      error?: { code: number; message: string };
      result?: unknown;
      replies?: BatchReply[];
    };
    try {
      body = JSON.parse(text);
    } catch {
      throw new CentrifugoApiError("http", `${method}: answer is not JSON`, status);
    }
    if (body.error) {
      throw new CentrifugoApiError(
        "api",
        `${method}: ${body.error.message} (${body.error.code})`,
        status,
        body.error.code,
      );
    }
    return body;
  }

  publish(channel: string, data: unknown): Promise<{ offset?: number; epoch?: string }> {
    return this.call(
      "publish",
      new RawJson(`{"channel":${JSON.stringify(channel)},"data":${json(data)}}`),
    );
  }

  /**
   * Commands (texts from publishCommand etc.) applied one after the other, in order (`parallel:
   * false`): one round trip for everything queued while the previous one was in flight.
   */
  async batch(commands: string[]): Promise<BatchReply[]> {
    // A batch answers {"replies":[…]} at the top level, not under "result".
    const r = await this.#post(
      "batch",
      new RawJson(`{"commands":[${commands.join(",")}],"parallel":false}`),
    );
    return r.replies ?? [];
  }

  /** Who is subscribed to `channel` (the namespace needs `presence: true`). */
  async presence(channel: string): Promise<Record<string, PresenceClient>> {
    const r = await this.call<{ presence?: Record<string, PresenceClient> }>("presence", {
      channel,
    });
    return r.presence ?? {};
  }

  /**
   * Disconnects one connection of `user` (a client id) with a code: 4000–4499 let the client
   * reconnect with backoff, 4500–4999 tell it not to.
   */
  async disconnect(user: string, client: string, code: number, reason: string): Promise<void> {
    await this.call("disconnect", { user, client, disconnect: { code, reason } });
  }

  /** Aborts calls in flight and frees the connection pool. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ac of this.#aborts) ac.abort();
    this.#http.close();
  }
}

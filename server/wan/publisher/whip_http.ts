/**
 * The HTTP half of WHIP (RFC 9725) as LiveKit's built-in endpoint speaks it (read from
 * livekit-server v1.13.5 pkg/service/whipservice.go): `POST {base}/whip/v1` with the offer,
 * `Content-Type: application/sdp` exactly (a `; charset` suffix is refused with 400) and a
 * bearer token; 201 with the answer (all of the server's candidates in it: it does not trickle),
 * a relative `Location: /whip/v1/<participant_sid>`, an `ETag` and `Link` ICE servers. `DELETE`
 * on the Location with a token for the same identity ends the session. Errors carry a JSON body
 * `{"error": "…"}`.
 */
import { type IceServer, parseIceServerLinks } from "./link_header.ts";

export const WHIP_PATH = "/whip/v1";
/** A request that takes longer is abandoned (the caller retries with backoff). */
export const WHIP_REQUEST_TIMEOUT_MS = 10_000;

/** The server answered with an error status. */
export class WhipHttpError extends Error {
  constructor(
    readonly method: string,
    readonly status: number,
    /** The server's `{error}` text, or the body as text when it is not that JSON. */
    readonly serverError: string,
  ) {
    super(`WHIP ${method}: ${status}${serverError ? ` ${serverError}` : ""}`);
    this.name = "WhipHttpError";
  }

  /**
   * A refusal that repeating the same request will not change (bad token or keys, a malformed
   * offer, a codec the server does not take): worth a warning, not just a retry. 429 and 5xx
   * are the server's passing trouble.
   */
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/** The server could not be reached (refused, reset, timed out). */
export class WhipNetworkError extends Error {
  constructor(readonly method: string, readonly url: string, cause: unknown) {
    super(`WHIP ${method} ${url}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "WhipNetworkError";
  }
}

/** The server answered 2xx but not with what WHIP promises (no SDP, no Location). */
export class WhipProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WhipProtocolError";
  }
}

export interface WhipAnswer {
  sdp: string;
  /** The session's resource, absolute (resolved against the POST's URL). */
  location: string;
  etag?: string;
  iceServers: IceServer[];
}

async function send(
  method: string,
  url: string,
  init: RequestInit,
  signal?: AbortSignal,
): Promise<Response> {
  const timeout = AbortSignal.timeout(WHIP_REQUEST_TIMEOUT_MS);
  try {
    return await fetch(url, {
      ...init,
      method,
      redirect: "error",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (e) {
    throw new WhipNetworkError(method, url, e);
  }
}

async function errorFor(method: string, res: Response): Promise<WhipHttpError> {
  let text = "";
  try {
    text = await res.text();
  } catch { /* the status says enough */ }
  let serverError = text.trim().slice(0, 500);
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === "string") serverError = j.error;
  } catch { /* not JSON: keep the text */ }
  return new WhipHttpError(method, res.status, redactTokens(serverError));
}

/**
 * LiveKit quotes the whole token in some refusals ("invalid token: eyJ…, error: …"): keep it out of
 * errors, which end up in logs and stats (a token refused for its room or grants may still be
 * valid for minutes).
 */
export function redactTokens(text: string): string {
  return text.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, "<token>");
}

/** Sends the offer; resolves with the answer and the session's resource. */
export async function whipPost(
  base: string,
  token: string,
  offerSdp: string,
  signal?: AbortSignal,
): Promise<WhipAnswer> {
  const url = `${base}${WHIP_PATH}`;
  const res = await send("POST", url, {
    headers: { "Content-Type": "application/sdp", "Authorization": `Bearer ${token}` },
    body: offerSdp,
  }, signal);
  if (res.status !== 201 && res.status !== 200) throw await errorFor("POST", res);
  const sdp = await res.text();
  const loc = res.headers.get("location");
  if (!loc) throw new WhipProtocolError(`WHIP POST: ${res.status} without a Location`);
  if (!sdp.startsWith("v=0")) throw new WhipProtocolError("WHIP POST: the answer is not SDP");
  return {
    sdp,
    location: new URL(loc, url).href,
    etag: res.headers.get("etag") ?? undefined,
    iceServers: parseIceServerLinks(res.headers.get("link")),
  };
}

/** Ends the session. A 404 means it is gone already, which is what was asked. */
export async function whipDelete(
  location: string,
  token: string,
  signal?: AbortSignal,
): Promise<void> {
  const res = await send("DELETE", location, {
    headers: { "Authorization": `Bearer ${token}` },
  }, signal);
  if (res.ok || res.status === 404) {
    await res.body?.cancel();
    return;
  }
  throw await errorFor("DELETE", res);
}

/**
 * What the /pair page does, apart from the page itself: send the secret or the code to smx and turn
 * the answer into a sentence. Kept free of the DOM so it runs under Deno's tests too.
 */
import { PAIR_PATH, type PairRequest, type PairResponse } from "../../protocol/lan.ts";

export type PairResult = { ok: true } | { ok: false; message: string; retryAfterS?: number };

export async function sendPairing(
  body: PairRequest,
  fetchFn: typeof fetch = fetch,
): Promise<PairResult> {
  let res: Response;
  try {
    res = await fetchFn(PAIR_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { ok: false, message: "smx cannot be reached: is this device on the same network?" };
  }
  let answer: PairResponse | undefined;
  try {
    answer = await res.json();
  } catch { /* not JSON: said below */ }
  if (res.ok && answer?.ok) return { ok: true };
  if (answer && !answer.ok) {
    return { ok: false, message: answer.message, retryAfterS: answer.retryAfterS };
  }
  return { ok: false, message: `smx answered ${res.status}: try again` };
}

export const START_TEXT = "Scan the QR code smx shows, or type the 8-digit code shown beside it.";
export const EXPIRED_TEXT = "This device's pairing has expired. Scan the QR code smx shows now, " +
  "or type its 8-digit code.";

/**
 * The /pair page. The QR code's URL carries the pairing secret in its fragment; the first thing
 * the page does is take it out of the address bar and the history entry (history.replaceState),
 * before any request, so it is neither shown, bookmarked, synced nor left in the history. Then it
 * sends the secret to smx, which answers with the session cookie, and goes to the UI with
 * location.replace (so Back does not return here). Without a secret, the code form does the same.
 */
import { normalizeCode, secretFromHash } from "../../protocol/lan.ts";
import { EXPIRED_TEXT, type PairResult, sendPairing, START_TEXT } from "./pair.ts";

const secret = secretFromHash(location.hash);
if (location.hash) history.replaceState(null, "", location.pathname + location.search);

const status = document.getElementById("status")!;
const form = document.getElementById("code-form") as HTMLFormElement;
const input = document.getElementById("code") as HTMLInputElement;

function show(text: string, kind: "info" | "error" = "info"): void {
  status.textContent = text;
  status.dataset.kind = kind;
}

function done(r: PairResult): void {
  if (r.ok) {
    show("Paired. Opening smx…");
    location.replace("/");
    return;
  }
  show(r.message, "error");
  form.hidden = false;
  input.focus();
}

show(new URLSearchParams(location.search).has("expired") ? EXPIRED_TEXT : START_TEXT);

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const code = normalizeCode(input.value);
  if (!code) return show("The code has 8 digits.", "error");
  show("Pairing…");
  done(await sendPairing({ code }));
});

if (secret) {
  form.hidden = true;
  show("Pairing…");
  done(await sendPairing({ secret }));
}

/**
 * HS256 JSON Web Tokens with WebCrypto: what Centrifugo's HMAC token check verifies. Used by smx
 * (its own connection token) and by the site (pages' connection and subscription tokens). LiveKit
 * tokens come from livekit-server-sdk instead (its grant format is its own).
 */
const enc = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey(
      "raw",
      enc.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(secret, k);
  }
  return k;
}

/** Signs `claims` (add `exp` yourself: seconds since the epoch). */
export async function signHs256(claims: Record<string, unknown>, secret: string): Promise<string> {
  if (!secret) throw new Error("an HMAC secret is required to sign tokens");
  const head = base64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64url(enc.encode(JSON.stringify(claims)));
  const sig = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret),
    enc.encode(`${head}.${body}`),
  );
  return `${head}.${body}.${base64url(new Uint8Array(sig))}`;
}

/** The claims of a token signed with `secret` that has not expired, or null. */
export async function verifyHs256(
  token: string,
  secret: string,
  nowS = Date.now() / 1000,
): Promise<Record<string, unknown> | null> {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const dec = (s: string) =>
    Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  try {
    const ok = await crypto.subtle.verify(
      "HMAC",
      await hmacKey(secret),
      dec(parts[2]),
      enc.encode(`${parts[0]}.${parts[1]}`),
    );
    if (!ok) return null;
    const claims = JSON.parse(new TextDecoder().decode(dec(parts[1])));
    if (typeof claims.exp === "number" && claims.exp <= nowS) return null;
    return claims;
  } catch {
    return null;
  }
}

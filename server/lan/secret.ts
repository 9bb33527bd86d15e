/**
 * The random values of pairing: the per-launch secret (in the QR), the 8-digit code (typed by
 * hand), session tokens (in the cookie) and device ids (public, in the loopback API). All come from
 * the platform's CSPRNG. Secrets are compared by their SHA-256 digests in constant time, so neither
 * a string comparison's early exit nor a Map lookup's hashing tells an attacker how close a guess
 * was.
 */
import { CODE_DIGITS } from "../../protocol/lan.ts";

/** 192 bits: unguessable at any rate, and still a small QR code (32 characters of base64url). */
export const SECRET_BYTES = 24;
/** 256 bits per session token. */
export const TOKEN_BYTES = 32;

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function randomBase64url(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export const newSecret = (): string => randomBase64url(SECRET_BYTES);
export const newToken = (): string => randomBase64url(TOKEN_BYTES);

/** A short public id for a device (not a secret: it names the device in the loopback API). */
export function newDeviceId(): string {
  return [...crypto.getRandomValues(new Uint8Array(6))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** 8 uniformly random digits (rejection sampling: no modulo bias). */
export function newCode(): string {
  const max = 10 ** CODE_DIGITS;
  const limit = Math.floor(2 ** 32 / max) * max;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    if (buf[0] < limit) return String(buf[0] % max).padStart(CODE_DIGITS, "0");
  }
}

export async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time equality of two digests (same length by construction). */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

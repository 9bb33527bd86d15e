/**
 * The manifests a release binary carries beside what it embeds (written by scripts/release/stage.ts
 * at build time, checked at start-up): each embedded file's path, size and SHA-256.
 *
 *   dist/embed/shim/manifest.json   { "kind": "shim", "files": [{ "path": "libsmx.so", ... }] }
 *   dist/embed/ui/manifest.json     { "kind": "ui", "files": [{ "path": "/index.html", ... }, ...] }
 *
 * Synchronous on purpose: the shim is needed by the first native call, which is synchronous.
 */
import { createHash } from "node:crypto";

export const MANIFEST_NAME = "manifest.json";

export interface ManifestEntry {
  /** The shim's file name, or a UI path as served ("/assets/app.js"). */
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  kind: "shim" | "ui";
  /** The deno compile target this was staged for ("x86_64-pc-windows-msvc"), when known. */
  target?: string;
  files: ManifestEntry[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function entryFor(path: string, bytes: Uint8Array): ManifestEntry {
  return { path, size: bytes.byteLength, sha256: sha256Hex(bytes) };
}

/** Parses and checks the shape of a manifest; `where` names it in errors. */
export function parseManifest(text: string, where: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  const ok = m && (m.kind === "shim" || m.kind === "ui") && Array.isArray(m.files) &&
    m.files.every((f) =>
      typeof f?.path === "string" && Number.isInteger(f.size) && f.size >= 0 &&
      typeof f.sha256 === "string" && /^[0-9a-f]{64}$/.test(f.sha256)
    );
  if (!ok) throw new Error(`${where}: not a release manifest (kind, files[path,size,sha256])`);
  return m;
}

/** Why `bytes` are not the file `e` describes, or "" when they are. */
export function mismatch(e: ManifestEntry, bytes: Uint8Array): string {
  if (bytes.byteLength !== e.size) return `${bytes.byteLength} bytes, manifest says ${e.size}`;
  const got = sha256Hex(bytes);
  if (got !== e.sha256) return `SHA-256 ${got}, manifest says ${e.sha256}`;
  return "";
}

/**
 * Process limits (ffi/native/proc_limits.c): the open-files limit smx raises at start-up, and a
 * count of open descriptors for tests and diagnostics.
 */
import { check, native } from "./lib.ts";

export interface OpenFilesLimit {
  /** Soft limit before the call. */
  before: number;
  /** Soft limit now in force (= hard once raised). */
  soft: number;
  hard: number;
}

/** The C side's "no limit" (RLIM_INFINITY; Windows, which has no such limit). */
const UNLIMITED = 0xffff_ffff_ffff_ffffn;

function limit(v: bigint): number {
  return v === UNLIMITED ? Infinity : Number(v);
}

/**
 * Raises the soft RLIMIT_NOFILE to the hard limit and reports both (Infinity = no limit, as on
 * Windows). Every viewer holds a socket, and a default soft limit of 1024 runs out long before
 * the CPU does. Throws NativeIoError when getrlimit/setrlimit fails.
 */
export function raiseOpenFilesLimit(): OpenFilesLimit {
  const before = new BigUint64Array(1), soft = new BigUint64Array(1), hard = new BigUint64Array(1);
  check(native().smx_raise_nofile(before, soft, hard));
  return { before: limit(before[0]), soft: limit(soft[0]), hard: limit(hard[0]) };
}

/** Descriptors this process has open (Linux: /proc/self/fd); null where that cannot be read. */
export function openFileCount(): number | null {
  if (Deno.build.os !== "linux") return null;
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n - 1; // the listing includes the descriptor that reads the directory
  } catch {
    return null;
  }
}

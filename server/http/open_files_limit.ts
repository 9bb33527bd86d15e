/**
 * The open-files soft limit of this process as the kernel reports it now (Linux:
 * /proc/self/limits), for the connection ceiling's default when the caller gives none. Read when
 * smx starts listening, so a limit raised earlier in start-up is the one that counts. undefined
 * where it cannot be read, and when unlimited.
 */
export function openFilesSoftLimit(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
    return m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

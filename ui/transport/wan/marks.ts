/**
 * A performance mark `smx-wan:<step>` (tests and the benchmark read them with
 * performance.getEntriesByType("mark") to see where time to first frame goes).
 */
export function mark(step: string): void {
  try {
    performance.mark(`smx-wan:${step}`);
  } catch { /* no User Timing */ }
}

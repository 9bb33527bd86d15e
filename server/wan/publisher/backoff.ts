/**
 * Reconnect delays: 0.5, 1, 2, 4, 8 s (cap), each ±25 % at random so the renditions of one smx
 * (and many smx behind one LiveKit) do not knock on a restarted server in lockstep.
 */
export const BACKOFF_MS = [500, 1000, 2000, 4000, 8000] as const;
const JITTER = 0.25;

/** Delay before retry number `attempt` (0 = the first retry). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = BACKOFF_MS[Math.min(Math.max(0, attempt), BACKOFF_MS.length - 1)];
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * The wait before the next broker connection attempt. Pure: the attempts
 * since the last link that held, and a random number in [0, 1), come in.
 *
 *   attempt n -> initialMs * factor^n, at most maxMs, spread by +-20 %
 *
 * With the defaults (1 s, x2, up to 30 s): about 1, 2, 4, 8, 16, 30, 30 s.
 * The spread keeps a fleet that lost its broker from coming back in one
 * burst. The count starts again only once a link has held for maxMs, so a
 * broker that accepts and drops us every second is retried ever more slowly.
 */
export interface ReconnectPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
}

export const JITTER = 0.2;

export function reconnectDelay(policy: ReconnectPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
  return Math.max(0, Math.round(base * (1 - JITTER + 2 * JITTER * random)));
}

/**
 * How long to wait before the next connection attempt. Pure: the number of
 * failed attempts since the last good link comes in, a delay goes out.
 *
 *   failures 0 -> 0 (first try, or the first retry after a good link dropped)
 *   failures n -> initialMs * factor^(n-1), at most maxMs
 *
 * With the defaults (2 s, x1.5, up to 30 s): 0, 2000, 3000, 4500, 6750, ...
 * 30000. A good link (one that was Synchronized for retry.resetAfterMs) is
 * retried at once when it drops, because the controller was there and
 * working a moment ago (a reset, a cable wiggle); failed connects and links
 * that failed before they were good both count as failures and back off.
 */
export interface RetryPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
}

export function connectDelay(policy: RetryPolicy, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(policy.maxMs, Math.round(policy.initialMs * policy.factor ** (failures - 1)));
}

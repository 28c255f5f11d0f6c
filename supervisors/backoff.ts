/**
 * Backoff before a restart: exponential from `minMs` by `factor`, capped at
 * `maxMs`, spread by `jitter` (0..1, a fraction of the delay either way).
 * `attempt` counts restarts since the last quiet period (0 for the first).
 * `random` is passed in (0..1) so tests are exact.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  factor: number;
  jitter: number;
  /** After this long without a restart, the next one starts again from `minMs`. */
  resetAfterMs: number;
}

export function backoffDelay(options: BackoffOptions, attempt: number, random: number): number {
  const base = Math.min(options.maxMs, options.minMs * options.factor ** attempt);
  const spread = base * options.jitter * (2 * random - 1);
  return Math.max(0, Math.round(Math.min(options.maxMs, base + spread)));
}

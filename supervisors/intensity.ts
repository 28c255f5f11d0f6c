/**
 * Restart intensity, as OTP's supervisor counts it: a sliding window of
 * restart times. A restart is added; those older than the period fall out;
 * the supervisor gives up when more than `intensity` remain. Time comes in
 * as an argument (monotonic ms), so tests need no clock.
 */
export interface IntensityVerdict {
  /** The restart times still inside the period, newest first, the new one included. */
  readonly restarts: readonly number[];
  /** True when this restart is one too many: the supervisor must give up. */
  readonly exceeded: boolean;
}

export function addRestart(
  restarts: readonly number[],
  now: number,
  intensity: number,
  periodMs: number,
): IntensityVerdict {
  const threshold = now - periodMs;
  // OTP keeps a restart while `R >= Now - Period`: a restart exactly one period old still counts.
  const kept = restarts.filter((at) => at >= threshold);
  const next = [now, ...kept];
  return { restarts: next, exceeded: next.length > intensity };
}

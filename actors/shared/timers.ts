/**
 * Time as a dependency: the commander and the watchdog read the clock and
 * start timers only through this interface, so their tests advance a fake
 * clock in microseconds instead of sleeping through real timeouts.
 */

/** A started timer; cancel is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Timers {
  /** ms since epoch (the same clock the kernel stamps `since` with). */
  now(): number;
  /** Runs `fn` once after `ms`. */
  schedule(ms: number, fn: () => void): Timer;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
};

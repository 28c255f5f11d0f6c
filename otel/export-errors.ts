/**
 * Export failures (a collector that is down, refuses, or times out) are
 * logged at most once per period, with how many were kept quiet since: a
 * service that cannot reach its collector keeps working, and says so
 * without flooding its own log.
 */
import type { Logger } from '../runtime/index.js';

export const EXPORT_ERROR_LOG_INTERVAL_MS = 60_000;

export class ExportErrorLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #loggedAt = -Infinity;
  #suppressed = 0;

  constructor(logger: Logger, intervalMs = EXPORT_ERROR_LOG_INTERVAL_MS, now: () => number = Date.now) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Failures seen but not logged since the last line. */
  get suppressed(): number {
    return this.#suppressed;
  }

  report(error: unknown): void {
    const now = this.#now();
    if (now - this.#loggedAt < this.#intervalMs) {
      this.#suppressed += 1;
      return;
    }
    this.#logger.warn(
      {
        event: 'telemetry-export-failed',
        error: describe(error),
        suppressedSinceLast: this.#suppressed,
        nextReportInMs: this.#intervalMs,
      },
      'telemetry export failed (the service keeps running; reported at most once a minute)',
    );
    this.#loggedAt = now;
    this.#suppressed = 0;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

/**
 * Export failures (a collector that is down, refuses, or times out) are
 * logged at most once per period, with how many were kept quiet since: a
 * service that cannot reach its collector keeps working, and says so
 * without flooding its own log.
 */
import { describe } from '../errors/index.js';
import type { Logger } from '../runtime/index.js';
import { LogLimiter } from '../runtime/log-limiter.js';

export const EXPORT_ERROR_LOG_INTERVAL_MS = 60_000;

export class ExportErrorLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #limiter: LogLimiter<'export'>;

  constructor(logger: Logger, intervalMs = EXPORT_ERROR_LOG_INTERVAL_MS, now: () => number = Date.now) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#limiter = new LogLimiter({ periodMs: intervalMs, burst: 1 });
  }

  /** Failures seen but not logged since the last line. */
  get suppressed(): number {
    return this.#limiter.suppressed('export');
  }

  report(error: unknown): void {
    const suppressed = this.#limiter.admit('export', this.#now());
    if (suppressed === undefined) return;
    this.#logger.warn(
      {
        event: 'telemetry-export-failed',
        error: describe(error),
        suppressedSinceLast: suppressed,
        nextReportInMs: this.#intervalMs,
      },
      'telemetry export failed (the service keeps running; reported at most once a minute)',
    );
  }
}

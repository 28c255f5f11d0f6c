/**
 * Rate limits for log lines that outside input can trigger (line noise, a
 * chatty or hostile controller, a link that fails on every attempt): per
 * kind, at most `burst` lines in each window of `periodMs`; the rest are
 * counted, and the first line let through after them says how many were
 * kept quiet. Pure: time comes in as an argument, so tests need no clock.
 *
 * Fixed windows rather than a token bucket: the count a line carries is then
 * exactly "since the last line of this kind", which is what a reader of the
 * log wants to know.
 */

export interface LogLimit {
  /** Length of a window (ms). */
  periodMs: number;
  /** Lines let through per window. */
  burst: number;
}

/** Kinds remembered at once: a bound, should a caller ever key kinds by outside input. */
const MAX_KINDS = 64;

interface Window {
  startedAt: number;
  admitted: number;
  suppressed: number;
}

export class LogLimiter<Kind extends string = string> {
  readonly #limitOf: (kind: Kind) => LogLimit;
  readonly #windows = new Map<Kind, Window>();

  /** `limit` for every kind, or a function giving each kind its own. */
  constructor(limit: LogLimit | ((kind: Kind) => LogLimit)) {
    this.#limitOf = typeof limit === 'function' ? limit : () => limit;
  }

  /**
   * Whether a line of `kind` may be logged at `now` (ms). Undefined: keep it
   * quiet (it is counted). A number: log it, with this many suppressed since
   * the last line of this kind.
   */
  admit(kind: Kind, now: number): number | undefined {
    const { periodMs, burst } = this.#limitOf(kind);
    let window = this.#windows.get(kind);
    if (window === undefined) {
      if (this.#windows.size >= MAX_KINDS) {
        // Forget the oldest kind rather than grow: at worst it logs once more than it would have.
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
      window = { startedAt: now, admitted: 0, suppressed: 0 };
      this.#windows.set(kind, window);
    } else if (now - window.startedAt >= periodMs) {
      window.startedAt = now;
      window.admitted = 0;
    }
    if (window.admitted >= burst) {
      window.suppressed += 1;
      return undefined;
    }
    window.admitted += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    return suppressed;
  }

  /** Lines of `kind` kept quiet since its last line. */
  suppressed(kind: Kind): number {
    return this.#windows.get(kind)?.suppressed ?? 0;
  }
}

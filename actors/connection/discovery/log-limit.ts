/**
 * Log lines that outside input can trigger (a packet off the network, a
 * device that keeps vanishing) are rate-limited: at most one line per kind
 * per period, and the line that does get out says how many were held back.
 * The counting itself is never limited; only the writing is.
 */

export interface LogLimiterOptions {
  /** One line per kind in this period; default 10 s. */
  periodMs?: number;
  /** Kinds remembered at once (a bound, should a caller ever key by outside input); default 64. */
  maxKinds?: number;
  now?: () => number;
}

export class LogLimiter {
  readonly #periodMs: number;
  readonly #maxKinds: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(options: LogLimiterOptions = {}) {
    this.#periodMs = options.periodMs ?? 10_000;
    this.#maxKinds = options.maxKinds ?? 64;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether a line of this kind may be written now. When it may, the result
   * says how many lines of the kind were held back since the last one.
   */
  take(kind: string): { suppressed: number } | undefined {
    const now = this.#now();
    const entry = this.#kinds.get(kind);
    if (entry !== undefined && now - entry.loggedAt < this.#periodMs) {
      entry.suppressed += 1;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    if (entry === undefined && this.#kinds.size >= this.#maxKinds) {
      // Forget the oldest kind rather than grow: at worst it logs once more than it would have.
      const oldest = this.#kinds.keys().next().value;
      if (oldest !== undefined) this.#kinds.delete(oldest);
    }
    this.#kinds.delete(kind);
    this.#kinds.set(kind, { loggedAt: now, suppressed: 0 });
    return { suppressed };
  }
}

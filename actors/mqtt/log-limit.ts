/**
 * Log lines that the broker's input can trigger (a refused request, a bad
 * group message, a broker that drops us every second) go through here: per
 * kind, at most `perWindow` lines each `windowMs`; past that they are
 * counted, and one line says how many were left out when the window turns.
 * Anyone who can publish to our topics could otherwise fill the disk.
 */
import type { ActorLogger } from '../../runtime/actor.js';

export interface LogLimitOptions {
  perWindow?: number;
  windowMs?: number;
  now?: () => number;
}

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

export class LogLimiter {
  readonly #log: ActorLogger;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** One entry per kind; kinds are names in the code, never from the input, so this stays small. */
  readonly #windows = new Map<string, Window>();

  constructor(log: ActorLogger, options: LogLimitOptions = {}) {
    this.#log = log;
    this.#perWindow = options.perWindow ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Logs unless `kind` has had its lines this window; true when it was written. */
  write(level: Level, kind: string, msg: string, fields: Record<string, unknown> = {}): boolean {
    const now = this.#now();
    let window = this.#windows.get(kind);
    if (window === undefined || now - window.start >= this.#windowMs) {
      if (window !== undefined && window.suppressed > 0) {
        this.#log.warn(`${window.suppressed} more "${kind}" lines were left out`, {
          kind,
          suppressed: window.suppressed,
          windowMs: this.#windowMs,
        });
      }
      window = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(kind, window);
    }
    window.count += 1;
    if (window.count > this.#perWindow) {
      window.suppressed += 1;
      return false;
    }
    this.#log[level](msg, { ...fields, kind });
    return true;
  }

  /** Lines left out so far in the current windows (for tests and status). */
  suppressed(kind: string): number {
    return this.#windows.get(kind)?.suppressed ?? 0;
  }
}

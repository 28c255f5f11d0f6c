/**
 * Waiting states with a timeout and a failure count each, as in a
 * life-guard state machine: a task that must wait for something outside it
 * (the link to drop after a REBOOT, the controller to come back, the
 * updater's event) names each wait, and nothing waits forever.
 *
 * - `wait(name, limits, check)` resolves as soon as `check()` gives a value,
 *   checked now and after every phase or component change. A check may throw
 *   to fail at once (the controller came back incompatible).
 * - A wait that times out counts a failure, runs its `onTimeout` (a nudge:
 *   close a half-open link so a fresh one is tried) and waits again; one
 *   failure more than `retries` and the task fails with
 *   TaskStateTimeoutError naming the state.
 * - `step(name, limits, action)` is the same for an action (a command):
 *   a failure the caller says may be retried is retried up to `retries`.
 * - An abort ends any wait or step at once with TaskAbortedError; every
 *   error carries what was passed so far (`partial`).
 *
 * Everything watched is in the main thread (the kernel's phase, the
 * component state), so a waiting task survives restarts of any actor.
 */
import type { PhaseSource } from '../contracts/actors.js';
import type { ComponentChange, ComponentSource } from '../contracts/component.js';
import type { PhaseChange } from '../contracts/phase.js';
import { TaskAbortedError, TaskStateTimeoutError, withPartial } from './errors.js';

export interface StateLimits {
  /** How long one attempt of the state may take. */
  timeoutMs: number;
  /** Timeouts (or failed attempts) allowed before the task fails: 1 means two attempts in all. */
  retries: number;
}

export type Observed =
  { type: 'phase'; change: PhaseChange } | { type: 'component'; change: ComponentChange };

export interface GuardProgress {
  /** The states passed, in order. */
  passed: string[];
  /** The state being waited in, if any. */
  state: string | null;
  /** Failed attempts per state. */
  failures: Record<string, number>;
}

export class LifeGuard {
  readonly #signal: AbortSignal;
  /** Every change since the guard started, oldest first (bounded: a task lives minutes). */
  readonly seen: Observed[] = [];
  readonly #wakers = new Set<() => void>();
  readonly #unsubscribe: Array<() => void>;
  readonly progress: GuardProgress = { passed: [], state: null, failures: {} };

  constructor(source: PhaseSource & ComponentSource, signal: AbortSignal) {
    this.#signal = signal;
    this.#unsubscribe = [
      source.onPhaseChange((change) => this.#observe({ type: 'phase', change })),
      source.onComponentChange((change) => this.#observe({ type: 'component', change })),
    ];
  }

  /** Stops watching; call when the task ends, whatever the way. */
  close(): void {
    for (const off of this.#unsubscribe) off();
    this.#wakers.clear();
  }

  /** What the task had done, for its result when it stops early. */
  partial(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      passed: [...this.progress.passed],
      state: this.progress.state,
      failures: { ...this.progress.failures },
      ...extra,
    };
  }

  async wait<T>(
    name: string,
    limits: StateLimits,
    check: () => T | undefined,
    options: { onTimeout?: (failures: number) => void } = {},
  ): Promise<T> {
    this.#enter(name);
    for (let failures = 0; ;) {
      const outcome = await this.#attempt(limits.timeoutMs, check);
      if (outcome.done) {
        this.#pass(name);
        return outcome.value;
      }
      failures = this.#fail(name, failures, limits);
      options.onTimeout?.(failures);
    }
  }

  async step<T>(
    name: string,
    limits: StateLimits,
    action: () => Promise<T>,
    retryable: (error: unknown) => boolean,
  ): Promise<T> {
    this.#enter(name);
    for (let failures = 0; ;) {
      this.#checkAbort();
      try {
        const value = await action();
        this.#pass(name);
        return value;
      } catch (error) {
        this.#checkAbort();
        if (!retryable(error)) throw withPartial(error, this.partial());
        failures = this.#fail(name, failures, limits);
      }
    }
  }

  // ------------------------------------------------------------ internals

  #enter(name: string): void {
    this.#checkAbort();
    this.progress.state = name;
  }

  #pass(name: string): void {
    this.progress.passed.push(name);
    this.progress.state = null;
  }

  /** Counts a failure; throws once there are more than the state allows. */
  #fail(name: string, failures: number, limits: StateLimits): number {
    const count = failures + 1;
    this.progress.failures[name] = count;
    if (count > limits.retries) {
      throw new TaskStateTimeoutError(name, count, limits.timeoutMs, this.partial());
    }
    return count;
  }

  #checkAbort(): void {
    if (this.#signal.aborted) {
      throw new TaskAbortedError(
        this.progress.state === null ? 'aborted between states' : `aborted in state "${this.progress.state}"`,
        this.partial(),
      );
    }
  }

  #observe(observed: Observed): void {
    this.seen.push(observed);
    if (this.seen.length > 1000) this.seen.shift();
    for (const wake of [...this.#wakers]) wake();
  }

  /** One attempt: the check's value, or `done: false` at the timeout. Rejects on an abort or a throwing check. */
  #attempt<T>(
    timeoutMs: number,
    check: () => T | undefined,
  ): Promise<{ done: true; value: T } | { done: false }> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        this.#signal.removeEventListener('abort', wake);
      };
      const wake = (): void => {
        try {
          this.#checkAbort();
          const value = check();
          if (value === undefined) return;
          finish();
          resolve({ done: true, value });
        } catch (error) {
          finish();
          reject(error instanceof TaskAbortedError ? error : withPartial(error, this.partial()));
        }
      };
      const timer = setTimeout(() => {
        finish();
        resolve({ done: false });
      }, timeoutMs);
      this.#wakers.add(wake);
      this.#signal.addEventListener('abort', wake, { once: true });
      wake();
    });
  }
}

/**
 * The owner of the service's life cycle (the table is contracts/lifecycle.ts).
 *
 * Triggers come from the start-up sequence, HTTP, MQTT, the CLI (through
 * HTTP) and other members of the group. Each is decided against the state
 * the machine will be in once the transitions already queued have run:
 * ignored when it is that state, refused (IllegalLifecycleTriggerError) when
 * the table does not allow it, queued otherwise. Transitions run one at a
 * time, in the order accepted; each runs its implementation, bounded by
 * `transitionTimeoutMs`. One that fails (or overruns) leaves the state as it
 * was, and the machine moves to `failed` by itself; the trigger's promise
 * rejects with LifecycleFailedError. A queued transition that the state
 * after a failure no longer allows is refused when its turn comes.
 *
 * Every accepted transition (and the automatic failure) is recorded with
 * who asked for it, and published to subscribers after it happened.
 */
import type { LifecycleState } from '../contracts/lifecycle.js';
import {
  IllegalLifecycleTriggerError,
  LifecycleBusyError,
  LifecycleFailedError,
  allowedTargets,
  canMove,
  decideTrigger,
} from '../contracts/lifecycle.js';

/** Who asked for a transition. */
export type TriggerSource =
  | { via: 'startup' }
  | { via: 'http'; client?: string }
  | { via: 'mqtt' }
  | { via: 'group'; origin: string; seq: number }
  | { via: 'automatic'; cause: string };

export interface LifecycleTransition {
  /** Counts this service's transitions, from 1. */
  n: number;
  from: LifecycleState;
  to: LifecycleState;
  source: TriggerSource;
  /** When it ended (ms since epoch). */
  at: number;
  /** How long its implementation took. */
  durationMs: number;
}

/** The implementation of each transition, by the state it leads to; `failed` has none. */
export type LifecycleImplementations = Readonly<
  Record<'initialized' | 'started' | 'paused' | 'stopped', () => void | Promise<void>>
>;

export interface LifecycleOptions {
  implementations: LifecycleImplementations;
  now?: () => number;
  /** Transitions that may wait behind the running one (default 8). */
  queueLimit?: number;
  /** The longest an implementation may run before it counts as failed (default 30 s). */
  transitionTimeoutMs?: number;
  /** Bounds of their own for some transitions (starting the tree may take each child's start timeout). */
  timeoutsMs?: Partial<Record<LifecycleState, number>>;
}

export type TriggerOutcome =
  | { ignored: true; state: LifecycleState }
  | { ignored: false; state: LifecycleState; transition: LifecycleTransition };

export interface LifecycleView {
  state: LifecycleState;
  /** When the current state began (ms since epoch). */
  since: number;
  /** The state the running (or next) transition leads to, or null. */
  moving: LifecycleState | null;
  /** The triggers the current state allows. */
  allowed: LifecycleState[];
  last: LifecycleTransition | null;
  /** The last transitions, oldest first. */
  history: readonly LifecycleTransition[];
}

const HISTORY_LIMIT = 50;

export class Lifecycle {
  readonly #implementations: LifecycleImplementations;
  readonly #now: () => number;
  readonly #queueLimit: number;
  readonly #timeoutMs: number;
  readonly #timeoutsMs: Partial<Record<LifecycleState, number>>;
  #state: LifecycleState = 'created';
  #since: number;
  /** Targets accepted and not yet run (the running one first). */
  readonly #queue: LifecycleState[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #count = 0;
  readonly #history: LifecycleTransition[] = [];
  readonly #listeners = new Set<(transition: LifecycleTransition) => void>();
  readonly #movingListeners = new Set<(target: LifecycleState | null) => void>();

  constructor(options: LifecycleOptions) {
    this.#implementations = options.implementations;
    this.#now = options.now ?? Date.now;
    this.#queueLimit = options.queueLimit ?? 8;
    this.#timeoutMs = options.transitionTimeoutMs ?? 30_000;
    this.#timeoutsMs = { ...options.timeoutsMs };
    this.#since = this.#now();
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** The state once every queued transition has run (as far as is known now). */
  get planned(): LifecycleState {
    return this.#queue.at(-1) ?? this.#state;
  }

  view(): LifecycleView {
    return {
      state: this.#state,
      since: this.#since,
      moving: this.#queue[0] ?? null,
      allowed: allowedTargets(this.#state),
      last: this.#history.at(-1) ?? null,
      history: [...this.#history],
    };
  }

  /** Every transition made (the automatic failure included), after it happened. */
  onTransition(listener: (transition: LifecycleTransition) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A transition began (its target) or ended (null). */
  onMoving(listener: (target: LifecycleState | null) => void): () => void {
    this.#movingListeners.add(listener);
    return () => this.#movingListeners.delete(listener);
  }

  /**
   * Asks for `target`. Resolves when its transition has run (or at once when
   * ignored); rejects with IllegalLifecycleTriggerError, LifecycleBusyError,
   * or LifecycleFailedError when the implementation failed.
   */
  trigger(target: LifecycleState, source: TriggerSource): Promise<TriggerOutcome> {
    const decision = decideTrigger(this.planned, target);
    if (decision.kind === 'ignore') return Promise.resolve({ ignored: true, state: this.planned });
    if (decision.kind === 'refuse') return Promise.reject(decision.error);
    if (this.#queue.length > this.#queueLimit)
      return Promise.reject(new LifecycleBusyError(this.#queueLimit));
    this.#queue.push(target);
    const run = this.#chain.then(() => this.#run(target, source));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #run(target: LifecycleState, source: TriggerSource): Promise<TriggerOutcome> {
    try {
      return await this.#transition(target, source);
    } finally {
      this.#queue.shift();
    }
  }

  async #transition(target: LifecycleState, source: TriggerSource): Promise<TriggerOutcome> {
    const from = this.#state;
    if (from === target) return { ignored: true, state: from };
    // Decided against the planned state; a failure since may have changed what is allowed.
    if (!canMove(from, target)) throw new IllegalLifecycleTriggerError(from, target);
    this.#setMoving(target);
    const began = this.#now();
    try {
      await this.#implement(target);
    } catch (error) {
      this.#setMoving(null);
      this.#record(from, 'failed', { via: 'automatic', cause: describe(error) }, began);
      throw new LifecycleFailedError(from, target, error);
    }
    this.#setMoving(null);
    return { ignored: false, state: target, transition: this.#record(from, target, source, began) };
  }

  async #implement(target: LifecycleState): Promise<void> {
    if (target === 'failed' || target === 'created') return;
    const boundMs = this.#timeoutsMs[target] ?? this.#timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${boundMs} ms`)), boundMs);
    });
    try {
      await Promise.race([Promise.resolve().then(this.#implementations[target]), overrun]);
    } finally {
      clearTimeout(timer);
    }
  }

  #record(
    from: LifecycleState,
    to: LifecycleState,
    source: TriggerSource,
    began: number,
  ): LifecycleTransition {
    const at = this.#now();
    this.#count += 1;
    const transition: LifecycleTransition = { n: this.#count, from, to, source, at, durationMs: at - began };
    this.#state = to;
    this.#since = at;
    this.#history.push(transition);
    if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
    for (const listener of this.#listeners) safely(() => listener(transition));
    return transition;
  }

  #setMoving(target: LifecycleState | null): void {
    for (const listener of this.#movingListeners) safely(() => listener(target));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A subscriber's bug must not stop the life cycle. */
function safely(run: () => void): void {
  try {
    run();
  } catch {
    // ignored on purpose
  }
}

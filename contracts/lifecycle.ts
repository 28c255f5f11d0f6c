/**
 * The service's life cycle, apart from the link's phases (phase.ts): one
 * pure, typed state machine with a transition table.
 *
 *   created -> initialized -> started <-> paused -> stopped
 *                  |             |___________________^
 *                  |_________________________________^
 *   failed: reached from every state when a transition's implementation fails
 *
 * - initialized: configuration loaded, supervision tree up, not connecting.
 * - started: autoconnecting on.
 * - paused: autoconnecting off, the link closed.
 * - stopped: the device actors stopped; the process stays so its state stays
 *   visible (HTTP, MQTT), and exits on SIGTERM as always.
 * - failed: a transition's implementation failed; the state it was in is
 *   left as it was, and the machine moves here by itself. Only `stop` leaves it.
 *
 * Operators (HTTP, MQTT, the CLI) and group members may ask for `started`,
 * `paused` and `stopped`; `initialized` is reached at start-up and `failed`
 * only by itself. A trigger for the state the machine is in, or is already
 * moving to, is ignored; any other trigger the table does not list is refused
 * with an IllegalLifecycleTriggerError naming the state and the triggers it
 * allows. The kernel owns the machine (kernel/lifecycle.ts); this module only
 * decides.
 */
import { TetherError, registerErrorClass } from '../errors/index.js';

export const LIFECYCLE_STATES = ['created', 'initialized', 'started', 'paused', 'stopped', 'failed'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** The states a trigger may ask for (the others are reached only by the service itself). */
export const LIFECYCLE_TARGETS = ['started', 'paused', 'stopped'] as const;
export type LifecycleTarget = (typeof LIFECYCLE_TARGETS)[number];

/** The transition table: from each state, the states it may move to. */
export const LIFECYCLE_TABLE: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  created: ['initialized', 'failed'],
  initialized: ['started', 'stopped', 'failed'],
  started: ['paused', 'stopped', 'failed'],
  paused: ['started', 'stopped', 'failed'],
  stopped: ['failed'],
  failed: ['stopped'],
};

/** The verb that asks for each state, as the CLI and error messages say it. */
export const TRIGGER_VERBS: Readonly<Record<LifecycleState, string>> = {
  created: 'create',
  initialized: 'initialize',
  started: 'start',
  paused: 'pause',
  stopped: 'stop',
  failed: 'fail',
};

export function isLifecycleTarget(state: string): state is LifecycleTarget {
  return (LIFECYCLE_TARGETS as readonly string[]).includes(state);
}

/** The triggers an operator may send in `state` (the targets its row lists). */
export function allowedTargets(state: LifecycleState): LifecycleTarget[] {
  return LIFECYCLE_TABLE[state].filter(isLifecycleTarget);
}

export function canMove(from: LifecycleState, to: LifecycleState): boolean {
  return LIFECYCLE_TABLE[from].includes(to);
}

/** A trigger the table refuses in the state the machine is in (or will be in once its queue has run). */
export class IllegalLifecycleTriggerError extends TetherError {
  declare readonly code: 'TETHER_LIFECYCLE_ILLEGAL';
  constructor(state: LifecycleState, target: string) {
    const allowed = allowedTargets(state);
    const verbs = allowed.map((to) => `${TRIGGER_VERBS[to]} (-> ${to})`);
    super(
      'TETHER_LIFECYCLE_ILLEGAL',
      `cannot ${TRIGGER_VERBS[target as LifecycleState] ?? target} (-> ${target}): the service is ${state}; ` +
        `allowed: ${verbs.length === 0 ? 'none' : verbs.join(', ')}`,
      { detail: { state, target, allowed } },
    );
  }
}
registerErrorClass('TETHER_LIFECYCLE_ILLEGAL', IllegalLifecycleTriggerError);

/** A transition's implementation failed: the service stayed where it was, then went to failed. */
export class LifecycleFailedError extends TetherError {
  declare readonly code: 'TETHER_LIFECYCLE_FAILED';
  constructor(from: LifecycleState, to: LifecycleState, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('TETHER_LIFECYCLE_FAILED', `${TRIGGER_VERBS[to]} (${from} -> ${to}) failed: ${why}; now failed`, {
      cause,
      detail: { from, to, why },
    });
  }
}
registerErrorClass('TETHER_LIFECYCLE_FAILED', LifecycleFailedError);

/** More triggers wait than the owner queues. */
export class LifecycleBusyError extends TetherError {
  declare readonly code: 'TETHER_LIFECYCLE_BUSY';
  constructor(limit: number) {
    super('TETHER_LIFECYCLE_BUSY', `${limit} life-cycle transitions are queued already; try again later`, {
      detail: { limit },
    });
  }
}
registerErrorClass('TETHER_LIFECYCLE_BUSY', LifecycleBusyError);

export type TriggerDecision =
  | { kind: 'accept' }
  /** Already there, or already on the way there. */
  | { kind: 'ignore' }
  | { kind: 'refuse'; error: IllegalLifecycleTriggerError };

/**
 * What to do with a trigger for `target` when the machine is in (or, with
 * transitions queued, will be in) `planned`. Pure.
 */
export function decideTrigger(planned: LifecycleState, target: LifecycleState): TriggerDecision {
  if (planned === target) return { kind: 'ignore' };
  if (!canMove(planned, target))
    return { kind: 'refuse', error: new IllegalLifecycleTriggerError(planned, target) };
  return { kind: 'accept' };
}

/**
 * The shortest legal way from `from` to `to`, as the states passed through
 * (`to` last; empty when already there), never through `failed`; undefined
 * when there is none. A group member that catches up on a transition it
 * missed (started late, or cut off) walks it: initialized -> started ->
 * paused runs start, then pause.
 */
export function pathTo(from: LifecycleState, to: LifecycleState): LifecycleState[] | undefined {
  if (from === to) return [];
  const previous = new Map<LifecycleState, LifecycleState>();
  const queue: LifecycleState[] = [from];
  while (queue.length > 0) {
    const state = queue.shift()!;
    for (const next of LIFECYCLE_TABLE[state]) {
      if (next === from || previous.has(next) || (next === 'failed' && to !== 'failed')) continue;
      previous.set(next, state);
      if (next === to) {
        const path: LifecycleState[] = [to];
        for (let at = state; at !== from; at = previous.get(at)!) path.unshift(at);
        return path;
      }
      queue.push(next);
    }
  }
  return undefined;
}

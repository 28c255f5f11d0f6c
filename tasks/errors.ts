/**
 * Errors of tasks: how a job says it stopped early (with what it had done),
 * and what the tracker answers for requests it cannot take.
 */
import { TetherError, describe, registerErrorClass } from '../errors/index.js';

/**
 * A job stopped at a safe point because its signal was aborted. `partial`
 * is what it had done (blocks written, steps passed): it becomes the
 * aborted task's result.
 */
export class TaskAbortedError extends TetherError {
  declare readonly code: 'TETHER_TASK_ABORTED';
  constructor(why: string, partial: unknown = null) {
    super('TETHER_TASK_ABORTED', `task aborted: ${why}`, { detail: { why, partial } });
  }
}

const PARTIAL = Symbol('partial result');

/**
 * `error` (thrown on as it is, its class and code kept) carrying what the
 * job had done when it failed: a restore cut short by a lost link says which
 * blocks it wrote. Main-thread only: the mark does not cross threads.
 */
export function withPartial<E>(error: E, partial: unknown): E {
  if (typeof error === 'object' && error !== null) {
    Object.defineProperty(error, PARTIAL, { value: partial, enumerable: false, configurable: true });
  }
  return error;
}

/** A job that failed part-way may say what it had done; the tracker keeps it as the result. */
export function partialResultOf(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && PARTIAL in error) {
    return (error as { [PARTIAL]: unknown })[PARTIAL];
  }
  if (!TetherError.is(error)) return null;
  const detail = (error as { detail?: { partial?: unknown } }).detail;
  return detail?.partial ?? null;
}

/** No task kind by that name. */
export class UnknownTaskKindError extends TetherError {
  declare readonly code: 'TETHER_UNKNOWN_TASK_KIND';
  constructor(kind: string, known: readonly string[]) {
    super('TETHER_UNKNOWN_TASK_KIND', `no task kind "${kind.slice(0, 64)}" (known: ${known.join(', ')})`, {
      detail: { known: [...known] },
    });
  }
}

/** A task's arguments are not what its kind takes. */
export class InvalidTaskArgsError extends TetherError {
  declare readonly code: 'TETHER_INVALID_TASK_ARGS';
  constructor(kind: string, why: string) {
    super('TETHER_INVALID_TASK_ARGS', `invalid arguments for task "${kind}": ${why}`, {
      detail: { kind, why },
    });
  }
}

/** The tracker is closed (the service is stopping); nothing new is taken. */
export class TrackerClosedError extends TetherError {
  declare readonly code: 'TETHER_TRACKER_CLOSED';
  constructor() {
    super('TETHER_TRACKER_CLOSED', 'the task tracker is closed: the service is stopping');
  }
}

for (const [code, errorClass] of [
  ['TETHER_TASK_ABORTED', TaskAbortedError],
  ['TETHER_UNKNOWN_TASK_KIND', UnknownTaskKindError],
  ['TETHER_INVALID_TASK_ARGS', InvalidTaskArgsError],
  ['TETHER_TRACKER_CLOSED', TrackerClosedError],
] as const) {
  registerErrorClass(code, errorClass);
}

/** A waiting state of a task (a reboot's reconnection, an updater) timed out more often than it may. */
export class TaskStateTimeoutError extends TetherError {
  declare readonly code: 'TETHER_TASK_STATE_TIMEOUT';
  constructor(state: string, attempts: number, timeoutMs: number, partial: unknown = null) {
    super(
      'TETHER_TASK_STATE_TIMEOUT',
      `state "${state}" timed out ${attempts} time(s) (${timeoutMs} ms each): giving up`,
      { detail: { state, attempts, timeoutMs, partial } },
    );
  }
}

/** The controller came back from a reboot or an update with another reset reason than the one expected. */
export class UnexpectedResetError extends TetherError {
  declare readonly code: 'TETHER_UNEXPECTED_RESET';
  constructor(expected: string, got: string, partial: unknown = null) {
    super('TETHER_UNEXPECTED_RESET', `the controller came back with reset reason ${got}, not ${expected}`, {
      detail: { expected, got, partial },
    });
  }
}

/** After a firmware update the controller runs another firmware than expected (or one this build cannot talk to). */
export class FirmwareMismatchError extends TetherError {
  declare readonly code: 'TETHER_FIRMWARE_MISMATCH';
  constructor(expected: string, got: string, why: string, partial: unknown = null) {
    super('TETHER_FIRMWARE_MISMATCH', `after the update the controller runs firmware ${got}: ${why}`, {
      detail: { expected, got, why, partial },
    });
  }
}

/** No task by that id: never submitted, or finished long enough ago to be forgotten. */
export class TaskNotFoundError extends TetherError {
  declare readonly code: 'TETHER_TASK_NOT_FOUND';
  constructor(id: string) {
    super('TETHER_TASK_NOT_FOUND', `no task ${JSON.stringify(id.slice(0, 64))} (unknown, or forgotten)`, {
      detail: { id: id.slice(0, 64), status: 'NOT_FOUND' },
    });
  }
}

/** The pool takes no more work: the service is stopping. */
export class PoolClosedError extends TetherError {
  declare readonly code: 'TETHER_POOL_CLOSED';
  constructor() {
    super('TETHER_POOL_CLOSED', 'the task pool is closed: the service is stopping');
  }
}

/** The pool worker running a job failed on its own (it exited, or could not load): the pool replaces it. */
export class PoolTaskFailedError extends TetherError {
  declare readonly code: 'TETHER_POOL_TASK_FAILED';
  constructor(kind: string, cause: unknown) {
    super('TETHER_POOL_TASK_FAILED', `the pool worker running "${kind}" failed: ${describe(cause)}`, {
      cause,
      detail: { kind },
    });
  }
}

for (const [code, errorClass] of [
  ['TETHER_TASK_STATE_TIMEOUT', TaskStateTimeoutError],
  ['TETHER_UNEXPECTED_RESET', UnexpectedResetError],
  ['TETHER_FIRMWARE_MISMATCH', FirmwareMismatchError],
  ['TETHER_TASK_NOT_FOUND', TaskNotFoundError],
  ['TETHER_POOL_CLOSED', PoolClosedError],
  ['TETHER_POOL_TASK_FAILED', PoolTaskFailedError],
] as const) {
  registerErrorClass(code, errorClass);
}

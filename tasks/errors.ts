/**
 * Errors of tasks: how a job says it stopped early (with what it had done),
 * and what the tracker answers for requests it cannot take.
 */
import { TetherError, registerErrorClass } from '../errors/index.js';

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

/** A job that failed part-way may say what it had done; the tracker keeps it as the result. */
export function partialResultOf(error: unknown): unknown {
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

/**
 * Errors of the actor runtime and of the supervisors, each registered so a
 * copy rebuilt on another thread is its own class again. The base class,
 * serialization and the catalogue of every code live in errors/.
 */
import { TetherError, describe, quote, registerErrorClass } from '../errors/index.js';

export {
  RemoteError,
  TetherError,
  describe,
  deserializeError,
  registerErrorClass,
  serializeError,
} from '../errors/index.js';
export type { SerializedError } from '../errors/index.js';

// ---------------------------------------------------------------- runtime

/** The callee died or restarted while the call was in flight, or is not running and will not be. */
export class ActorDownError extends TetherError {
  declare readonly code: 'TETHER_ACTOR_DOWN';
  constructor(actorId: string, why: string, options?: { cause?: unknown }) {
    super('TETHER_ACTOR_DOWN', `actor "${actorId}" is down: ${why}`, {
      ...options,
      detail: { actorId, why },
    });
  }
}

/** The per-call deadline passed before the callee answered. */
export class CallTimeoutError extends TetherError {
  declare readonly code: 'TETHER_CALL_TIMEOUT';
  constructor(actorId: string, method: string, timeoutMs: number) {
    super('TETHER_CALL_TIMEOUT', `call ${actorId}.${method} got no answer within ${timeoutMs} ms`, {
      detail: { actorId, method, timeoutMs },
    });
  }
}

/** Too many calls are waiting for a restarting actor. */
export class StashFullError extends TetherError {
  declare readonly code: 'TETHER_STASH_FULL';
  constructor(actorId: string, limit: number) {
    super(
      'TETHER_STASH_FULL',
      `actor "${actorId}" is restarting and already holds ${limit} waiting calls; call rejected`,
      { detail: { actorId, limit } },
    );
  }
}

/** The actor has no handler by that name. */
export class UnknownMethodError extends TetherError {
  declare readonly code: 'TETHER_UNKNOWN_METHOD';
  constructor(actorId: string, method: string) {
    super('TETHER_UNKNOWN_METHOD', `actor "${actorId}" has no handler "${method}"`, {
      detail: { actorId, method },
    });
  }
}

/** An actor's init threw, or did not finish within its start timeout. */
export class ActorInitError extends TetherError {
  declare readonly code: 'TETHER_ACTOR_INIT';
  constructor(actorId: string, why: string, options?: { cause?: unknown }) {
    super('TETHER_ACTOR_INIT', `actor "${actorId}" failed to start: ${why}`, {
      ...options,
      detail: { actorId, why },
    });
  }
}

/**
 * A message of this call could not be read on arrival (the receiving thread
 * could not deserialize it: `messageerror`), so the call has no answer.
 */
export class MessageUnreadableError extends TetherError {
  declare readonly code: 'TETHER_MESSAGE_UNREADABLE';
  constructor(actorId: string, method: string, options?: { cause?: unknown }) {
    super(
      'TETHER_MESSAGE_UNREADABLE',
      `call ${actorId}.${method}: a message it needed could not be read on the receiving thread`,
      { ...options, detail: { actorId, method } },
    );
  }
}

/**
 * The actor's init returned 'ignore' (OTP's `ignore`): `system.spawn` started
 * nothing. Not a failure; a supervisor keeps such a child as not running.
 */
export class ActorIgnoredError extends TetherError {
  declare readonly code: 'TETHER_ACTOR_IGNORED';
  constructor(actorId: string) {
    super('TETHER_ACTOR_IGNORED', `actor "${actorId}" returned 'ignore' from init: not started`, {
      detail: { actorId },
    });
  }
}

/** The runtime was shut down; nothing new can start. */
export class RuntimeClosedError extends TetherError {
  declare readonly code: 'TETHER_RUNTIME_CLOSED';
  constructor() {
    super('TETHER_RUNTIME_CLOSED', 'the actor runtime is shut down');
  }
}

/** Who holds a name: a supervisor (by its id), a service in the main thread, or a direct `system.spawn`. */
export type NameHolder = { kind: 'supervisor'; id: string } | { kind: 'serve' } | { kind: 'spawn' };

/**
 * OTP's `{error, {already_started, Pid}}`: the name is served or run already,
 * by this supervisor or anyone else. `detail.holder` says who, `detail.incarnation`
 * which incarnation (0 for a service in the main thread).
 */
export class AlreadyStartedError extends TetherError {
  declare readonly code: 'TETHER_ALREADY_STARTED';
  constructor(name: string, holder: NameHolder, incarnation: number) {
    super('TETHER_ALREADY_STARTED', `"${name}" is already started, by ${describeHolder(holder)}`, {
      detail: { name, holder, incarnation },
    });
  }
}

export function describeHolder(holder: NameHolder): string {
  switch (holder.kind) {
    case 'supervisor':
      return `supervisor "${holder.id}"`;
    case 'serve':
      return 'a service in the main thread (system.serve)';
    case 'spawn':
      return 'system.spawn';
  }
}

// ------------------------------------------------------------------ pools

/**
 * The pool is not running (stopped for good, or no incarnation came within
 * the wait), or ended with the task queued or running: `detail.exit` is the
 * kind of that end (shutdown, killed, crash, ...), `detail.incarnation`
 * which incarnation it was. The task is not run again by the pool.
 */
export class PoolStoppedError extends TetherError {
  declare readonly code: 'TETHER_POOL_STOPPED';
  constructor(poolId: string, why: string, where: { incarnation?: number; exit?: string }) {
    super('TETHER_POOL_STOPPED', `pool "${poolId}" is stopped: ${why}`, {
      detail: { poolId, why, ...where },
    });
  }
}

/** The task's AbortSignal fired: taken out of the queue, or its thread stopped (and replaced). */
export class PoolTaskAbortedError extends TetherError {
  declare readonly code: 'TETHER_POOL_TASK_ABORTED';
  constructor(poolId: string, reason: unknown) {
    super('TETHER_POOL_TASK_ABORTED', `pool "${poolId}": task aborted`, {
      ...(reason === undefined ? {} : { cause: reason }),
      detail: { poolId },
    });
  }
}

/** The pool's queue (maxQueue) is full, or too many tasks wait for it to restart. */
export class PoolQueueFullError extends TetherError {
  declare readonly code: 'TETHER_POOL_QUEUE_FULL';
  constructor(poolId: string, limit: number) {
    super('TETHER_POOL_QUEUE_FULL', `pool "${poolId}" already holds ${limit} queued tasks; task rejected`, {
      detail: { poolId, limit },
    });
  }
}

/** The thread running the task died (process.exit, out of memory, terminated): that task only. */
export class PoolTaskCrashedError extends TetherError {
  declare readonly code: 'TETHER_POOL_TASK_CRASHED';
  constructor(poolId: string, cause: unknown) {
    super(
      'TETHER_POOL_TASK_CRASHED',
      `pool "${poolId}": the thread running the task died: ${describe(cause)}`,
      {
        cause,
        detail: { poolId },
      },
    );
  }
}

/** The pool's module does not export `definePoolTask(fn)` as its default. */
export class NotAPoolTaskError extends TetherError {
  declare readonly code: 'TETHER_NOT_A_POOL_TASK';
  constructor(poolId: string, module: string, why: string) {
    super('TETHER_NOT_A_POOL_TASK', `pool "${poolId}": ${module} is not a pool task module: ${why}`, {
      detail: { poolId, module },
    });
  }
}

// ------------------------------------------------------------ supervisors

/** Where a spec problem is: the field (a dotted path), the child it is in, the known key a typo was meant to be. */
export interface SpecProblemDetail {
  childId?: string;
  suggestion?: string;
}

/** A child spec (or a root supervisor's spec) is malformed; `detail.field` names the field. */
export class InvalidChildSpecError extends TetherError {
  declare readonly code: 'TETHER_INVALID_CHILD_SPEC';
  constructor(message: string, field: string, where: SpecProblemDetail = {}) {
    super('TETHER_INVALID_CHILD_SPEC', message, { detail: { field, ...where } });
  }
}

/** Supervisor flags are malformed; `detail.field` names the field. */
export class InvalidSupervisorFlagsError extends TetherError {
  declare readonly code: 'TETHER_INVALID_SUPERVISOR_FLAGS';
  constructor(message: string, field: string, where: SpecProblemDetail = {}) {
    super('TETHER_INVALID_SUPERVISOR_FLAGS', message, { detail: { field, ...where } });
  }
}

/** OTP's `{error, already_present}`: the spec exists but its child is not running. */
export class AlreadyPresentError extends TetherError {
  declare readonly code: 'TETHER_ALREADY_PRESENT';
  constructor(childId: string) {
    super('TETHER_ALREADY_PRESENT', `child "${childId}" already has a spec (not running)`, {
      detail: { childId },
    });
  }
}

/** OTP's `{error, running}`: restartChild or deleteChild of a child that runs. */
export class ChildRunningError extends TetherError {
  declare readonly code: 'TETHER_CHILD_RUNNING';
  constructor(childId: string) {
    super('TETHER_CHILD_RUNNING', `child "${childId}" is running`, { detail: { childId } });
  }
}

/** OTP's `{error, restarting}`. */
export class ChildRestartingError extends TetherError {
  declare readonly code: 'TETHER_CHILD_RESTARTING';
  constructor(childId: string) {
    super('TETHER_CHILD_RESTARTING', `child "${childId}" is restarting`, { detail: { childId } });
  }
}

/**
 * OTP's `{error, simple_one_for_one}`: restartChild and deleteChild have no
 * meaning for the instances of a simple_one_for_one supervisor (an instance
 * that is not running is gone); terminateChild removes one.
 */
export class SimpleOneForOneError extends TetherError {
  declare readonly code: 'TETHER_SIMPLE_ONE_FOR_ONE';
  constructor(supervisorId: string, operation: string) {
    super(
      'TETHER_SIMPLE_ONE_FOR_ONE',
      `${operation} is not for the children of simple_one_for_one supervisor "${supervisorId}"`,
      { detail: { supervisorId, operation } },
    );
  }
}

/** OTP's `{error, not_found}`. */
export class ChildNotFoundError extends TetherError {
  declare readonly code: 'TETHER_CHILD_NOT_FOUND';
  constructor(childId: string) {
    // The id may come from outside (a URL, an MQTT request): quoted, so it is cut and escaped.
    super('TETHER_CHILD_NOT_FOUND', `no child "${quote(childId)}"`, { detail: { childId: quote(childId) } });
  }
}

/** OTP's `{shutdown, {failed_to_start_child, Id, Reason}}`. */
export class FailedToStartChildError extends TetherError {
  declare readonly code: 'TETHER_FAILED_TO_START_CHILD';
  constructor(childId: string, cause: unknown) {
    super('TETHER_FAILED_TO_START_CHILD', `child "${childId}" failed to start: ${describe(cause)}`, {
      cause,
      detail: { childId },
    });
  }
}

/** The supervisor is stopped (or stopping) and takes no more requests. */
export class SupervisorStoppedError extends TetherError {
  declare readonly code: 'TETHER_SUPERVISOR_STOPPED';
  constructor(supervisorId: string) {
    super('TETHER_SUPERVISOR_STOPPED', `supervisor "${supervisorId}" is stopped`, {
      detail: { supervisorId },
    });
  }
}

for (const [code, errorClass] of [
  ['TETHER_ACTOR_DOWN', ActorDownError],
  ['TETHER_CALL_TIMEOUT', CallTimeoutError],
  ['TETHER_STASH_FULL', StashFullError],
  ['TETHER_UNKNOWN_METHOD', UnknownMethodError],
  ['TETHER_ACTOR_INIT', ActorInitError],
  ['TETHER_RUNTIME_CLOSED', RuntimeClosedError],
  ['TETHER_MESSAGE_UNREADABLE', MessageUnreadableError],
  ['TETHER_ALREADY_STARTED', AlreadyStartedError],
  ['TETHER_ACTOR_IGNORED', ActorIgnoredError],
  ['TETHER_SIMPLE_ONE_FOR_ONE', SimpleOneForOneError],
  ['TETHER_FAILED_TO_START_CHILD', FailedToStartChildError],
  ['TETHER_POOL_STOPPED', PoolStoppedError],
  ['TETHER_POOL_TASK_ABORTED', PoolTaskAbortedError],
  ['TETHER_POOL_QUEUE_FULL', PoolQueueFullError],
  ['TETHER_POOL_TASK_CRASHED', PoolTaskCrashedError],
  ['TETHER_NOT_A_POOL_TASK', NotAPoolTaskError],
] as const) {
  registerErrorClass(code, errorClass);
}

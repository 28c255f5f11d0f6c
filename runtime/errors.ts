/**
 * Every error tether raises: one base class, one subclass per failure with a
 * literal `code`, `cause` passed on. Errors cross thread boundaries as plain
 * objects (`SerializedError`) and are rebuilt on the other side as the same
 * class when the code is one of ours, so `instanceof` and `code` checks work
 * wherever the error ends up.
 */

/** Brand check that survives structured cloning: codes of ours all start with this prefix. */
const CODE_PREFIX = 'TETHER_';

export class TetherError extends Error {
  readonly code: string;
  /** Extra machine-readable detail; must be structured-cloneable. */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; detail?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options?.detail ?? {};
    this.name = new.target.name;
  }

  /** True for any tether error, including one rebuilt from another thread. */
  static is(value: unknown, code?: string): value is TetherError {
    if (typeof value !== 'object' || value === null) return false;
    const found = (value as { code?: unknown }).code;
    if (typeof found !== 'string' || !found.startsWith(CODE_PREFIX)) return false;
    return code === undefined || found === code;
  }
}

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

/** A handler's error rebuilt on the caller's side when it is not one of ours: keeps its code, name and stack. */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly remoteName: string;
  constructor(name: string, message: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.remoteName = name;
    this.code = code;
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
    super('TETHER_CHILD_NOT_FOUND', `no child "${childId}"`, { detail: { childId } });
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

// ---------------------------------------------------------- serialization

/** An error as it crosses a thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  detail?: Record<string, unknown>;
  cause?: SerializedError;
}

const MAX_CAUSE_DEPTH = 5;

export function serializeError(value: unknown, depth = 0): SerializedError {
  if (!(value instanceof Error)) {
    // A thrown plain object keeps its code: callers and the HTTP edge decide by it.
    const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
    const message =
      typeof value === 'object' && value !== null ? (value as { message?: unknown }).message : undefined;
    return {
      name: 'Error',
      message: typeof message === 'string' ? message : describe(value),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  const out: SerializedError = { name: value.name, message: value.message };
  const code = (value as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (value.stack !== undefined) out.stack = value.stack;
  if (value instanceof TetherError && Object.keys(value.detail).length > 0) {
    out.detail = cloneable(value.detail);
  }
  if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH)
    out.cause = serializeError(value.cause, depth + 1);
  return out;
}

/** Rebuilds the error on this side: a tether error becomes its own class again; others a RemoteError. */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : deserializeError(s.cause);
  const error: Error =
    s.code !== undefined && s.code.startsWith(CODE_PREFIX)
      ? new TetherError(s.code, s.message, { cause, detail: s.detail ?? {} })
      : new RemoteError(s.name, s.message, s.code, { cause });
  if (error instanceof TetherError) {
    const known = KNOWN_CLASSES.get(s.code ?? '');
    if (known !== undefined) Object.setPrototypeOf(error, known.prototype);
  }
  error.name = s.name;
  if (s.stack !== undefined) error.stack = s.stack;
  return error;
}

/** Classes rebuilt by code; the constructor is bypassed (its arguments are not known), the prototype set. */
const KNOWN_CLASSES = new Map<string, { prototype: object }>([
  ['TETHER_ACTOR_DOWN', ActorDownError],
  ['TETHER_CALL_TIMEOUT', CallTimeoutError],
  ['TETHER_STASH_FULL', StashFullError],
  ['TETHER_UNKNOWN_METHOD', UnknownMethodError],
  ['TETHER_ACTOR_INIT', ActorInitError],
  ['TETHER_RUNTIME_CLOSED', RuntimeClosedError],
  ['TETHER_ALREADY_STARTED', AlreadyStartedError],
  ['TETHER_ACTOR_IGNORED', ActorIgnoredError],
  ['TETHER_SIMPLE_ONE_FOR_ONE', SimpleOneForOneError],
  ['TETHER_FAILED_TO_START_CHILD', FailedToStartChildError],
]);

/** Lets other areas (codec, transports, service) register their classes for rebuilding. */
export function registerErrorClass(code: string, errorClass: { prototype: object }): void {
  KNOWN_CLASSES.set(code, errorClass);
}

function cloneable(detail: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return structuredClone(detail) as Record<string, unknown>;
  } catch {
    return { unserializable: true };
  }
}

export function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

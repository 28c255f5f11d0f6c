/**
 * Errors of the synchronization actor. Registered with the runtime so they
 * keep their class across thread boundaries (a crash by the `restart`
 * recovery policy carries one to the supervisor's report).
 */
import { describe, registerErrorClass, TetherError } from '../../errors/index.js';

/** No handshake arrived within `synchronization.handshakeTimeoutMs` of the link opening. */
export class HandshakeTimeoutError extends TetherError {
  declare readonly code: 'TETHER_HANDSHAKE_TIMEOUT';
  constructor(generation: number, timeoutMs: number) {
    super('TETHER_HANDSHAKE_TIMEOUT', `no handshake within ${timeoutMs} ms (connection ${generation})`, {
      detail: { generation, timeoutMs },
    });
  }
}

/** A synchronization step failed (the command failed, the answer was malformed, or the kernel refused). */
export class SyncStepError extends TetherError {
  declare readonly code: 'TETHER_SYNC_STEP_FAILED';
  constructor(step: string, generation: number, cause: unknown) {
    super('TETHER_SYNC_STEP_FAILED', `sync step ${step} failed: ${describe(cause)}`, {
      cause,
      detail: { step, generation },
    });
  }
}

/** The controller said it entered listening (setup) mode, and the recovery policy is `restart`. */
export class ListeningModeError extends TetherError {
  declare readonly code: 'TETHER_LISTENING_MODE';
  constructor(generation: number) {
    super('TETHER_LISTENING_MODE', `the controller entered listening mode (connection ${generation})`, {
      detail: { generation },
    });
  }
}

/**
 * A device id that cannot name a datastore file (not 24 hex digits), so a
 * controller cannot name a path. Reading and writing the file fail with the
 * coded state-file errors of system/errors.ts instead.
 */
export class DatastoreError extends TetherError {
  declare readonly code: 'TETHER_DATASTORE';
  constructor(operation: string, path: string, cause: unknown) {
    super('TETHER_DATASTORE', `datastore ${operation} of ${path} failed: ${describe(cause)}`, {
      cause,
      detail: { operation, path },
    });
  }
}

registerErrorClass('TETHER_HANDSHAKE_TIMEOUT', HandshakeTimeoutError);
registerErrorClass('TETHER_SYNC_STEP_FAILED', SyncStepError);
registerErrorClass('TETHER_LISTENING_MODE', ListeningModeError);
registerErrorClass('TETHER_DATASTORE', DatastoreError);

/**
 * Errors of the state files (state-file.ts). Each names the path; each is
 * registered with the runtime so it keeps its class when it crosses a thread
 * boundary (the block datastore is read in the synchronization actor's
 * worker).
 */
import { describe, registerErrorClass, TetherError } from '../errors/index.js';

/** What stands at a state file's path, when it is not a regular file. */
export type FoundKind =
  'directory' | 'fifo' | 'socket' | 'character device' | 'block device' | 'symbolic link';

/** The content is not a valid state (empty, truncated, not JSON, the wrong shape). */
export class StateFileCorruptError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_CORRUPT';
  constructor(path: string, reason: string) {
    super('TETHER_STATE_FILE_CORRUPT', `${path} holds no valid state: ${reason}`, {
      detail: { path, reason },
    });
  }
}

/** Larger than any valid state file could be; not read, so it cannot exhaust memory. */
export class StateFileTooLargeError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_TOO_LARGE';
  constructor(path: string, size: number, maxBytes: number) {
    super(
      'TETHER_STATE_FILE_TOO_LARGE',
      `${path} is ${size} bytes, more than the ${maxBytes} a valid one can be`,
      {
        detail: { path, size, maxBytes },
      },
    );
  }
}

/** A FIFO, socket, device or symbolic link: never opened, since opening one can block or have side effects. */
export class StateFileNotRegularError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_NOT_REGULAR';
  constructor(path: string, found: Exclude<FoundKind, 'directory'>) {
    super('TETHER_STATE_FILE_NOT_REGULAR', `${path} is a ${found}, not a regular file`, {
      detail: { path, found },
    });
  }
}

/** A directory where a state file belongs: left alone (it may be a mount point, or an operator's doing). */
export class StateFileIsDirectoryError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_IS_DIRECTORY';
  constructor(path: string) {
    super('TETHER_STATE_FILE_IS_DIRECTORY', `${path} is a directory, not a file; remove or move it`, {
      detail: { path },
    });
  }
}

/** The operating system refused to read the file (permissions, an I/O error). */
export class StateFileUnreadableError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_UNREADABLE';
  constructor(path: string, cause: unknown) {
    super('TETHER_STATE_FILE_UNREADABLE', `${path} cannot be read: ${describe(cause)}`, {
      cause,
      detail: { path },
    });
  }
}

/** The operating system refused to write the file (no space, read-only, permissions); the old file is intact. */
export class StateFileWriteError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_WRITE_FAILED';
  constructor(path: string, cause: unknown) {
    super('TETHER_STATE_FILE_WRITE_FAILED', `${path} cannot be written: ${describe(cause)}`, {
      cause,
      detail: { path },
    });
  }
}

/** A read or write of a state file did not finish within its bound (a hung network or FUSE mount). */
export class StateFileTimeoutError extends TetherError {
  declare readonly code: 'TETHER_STATE_FILE_TIMEOUT';
  constructor(path: string, operation: 'read' | 'write', timeoutMs: number) {
    super('TETHER_STATE_FILE_TIMEOUT', `${operation} of ${path} did not finish within ${timeoutMs} ms`, {
      detail: { path, operation, timeoutMs },
    });
  }
}

/** The state directory is a file, or cannot be created: nothing can be kept. */
export class StateDirUnusableError extends TetherError {
  declare readonly code: 'TETHER_STATE_DIR_UNUSABLE';
  constructor(dir: string, cause: unknown) {
    super('TETHER_STATE_DIR_UNUSABLE', `the state directory ${dir} cannot be used: ${describe(cause)}`, {
      cause,
      detail: { path: dir },
    });
  }
}

export type StateFileError =
  | StateFileCorruptError
  | StateFileTooLargeError
  | StateFileNotRegularError
  | StateFileIsDirectoryError
  | StateFileUnreadableError
  | StateFileWriteError
  | StateFileTimeoutError
  | StateDirUnusableError;

registerErrorClass('TETHER_STATE_FILE_CORRUPT', StateFileCorruptError);
registerErrorClass('TETHER_STATE_FILE_TOO_LARGE', StateFileTooLargeError);
registerErrorClass('TETHER_STATE_FILE_NOT_REGULAR', StateFileNotRegularError);
registerErrorClass('TETHER_STATE_FILE_IS_DIRECTORY', StateFileIsDirectoryError);
registerErrorClass('TETHER_STATE_FILE_UNREADABLE', StateFileUnreadableError);
registerErrorClass('TETHER_STATE_FILE_WRITE_FAILED', StateFileWriteError);
registerErrorClass('TETHER_STATE_FILE_TIMEOUT', StateFileTimeoutError);
registerErrorClass('TETHER_STATE_DIR_UNUSABLE', StateDirUnusableError);

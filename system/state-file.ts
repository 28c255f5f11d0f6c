/**
 * Files in the state directory that must survive an exit, a crash or a
 * power cut — `rediscovery.json` and the block datastore's
 * `blocks-<device>.json` — read and written here, and only here.
 *
 * Writes are atomic: the new content goes to a temporary file in the same
 * directory (a rename is only atomic within one file system), is fsynced,
 * renamed over the old file, and the directory is fsynced so the rename
 * itself is durable. A reader therefore sees the old file or the new one,
 * never half of one. Every state file is created with one mode,
 * `STATE_FILE_MODE` (0640, see below).
 *
 * The same reader serves every other file the service opens that someone
 * else may have put there — the configuration, the MQTT CA file, a backup
 * the CLI uploads — as `readRegularFile`; those follow symbolic links (a
 * Kubernetes ConfigMap is one), and the opened file must still be regular.
 *
 * Reads trust nothing at the path. Only a regular file is opened: the path
 * is `lstat`ed first, then opened with O_NONBLOCK | O_NOFOLLOW | O_NOCTTY
 * (so a FIFO or a terminal swapped in after the check cannot block the open
 * or become our terminal, and a symbolic link is refused), and the opened
 * descriptor is `fstat`ed again, which closes the race between the check and
 * the open. At most `maxBytes` are read, whatever the file claims or grows
 * to, so a huge file cannot exhaust a worker's heap. Every step is bounded
 * in time (`STATE_FILE_TIMEOUT_MS`): a hung network or FUSE mount gives a
 * typed timeout rather than a step that never ends.
 *
 * What cannot be used is reported with a coded error (errors.ts) and, when
 * it is a file, set aside as `<file>.<why>-<time>` for a person to look at:
 * `corrupt` (not valid state), `oversized`, `not-regular` (a FIFO, socket,
 * device or symbolic link; moved, never opened) or `unreadable`. A
 * directory at the path, or a state directory that is not one, is left
 * alone: it may be a mount point or an operator's doing.
 *
 * Why O_NONBLOCK matters beyond one stuck read: a plain `open` of a FIFO
 * blocks a libuv pool thread until a writer appears, and a process with a
 * pool thread blocked cannot exit at all: `worker.terminate()`,
 * `process.exit()` and a natural exit all wait for it (seen on Node 20, in a
 * worker and on the main thread), so SIGTERM could not stop the service;
 * only SIGKILL could. A hung mount can still block an `lstat` that way;
 * nothing short of SIGKILL helps then, but the time bound at least reports it.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../runtime/logger.js';
import { describe, TetherError } from '../errors/index.js';
import {
  StateDirUnusableError,
  StateFileCorruptError,
  StateFileIsDirectoryError,
  StateFileNotRegularError,
  StateFileTimeoutError,
  StateFileTooLargeError,
  StateFileUnreadableError,
  StateFileWriteError,
  type FoundKind,
  type StateFileError,
} from './errors.js';

/**
 * The mode of every state file: read and write for the service's user, read
 * for its group, nothing for others. Not 0600: the deployed state directory
 * is 0750 (`StateDirectoryMode=` in deploy/tether.service), so its group is
 * meant to look in — an operator or a backup job in group `tether` reads the
 * block store and the set-aside files without root — and nothing here is a
 * secret (the API token lives in the configuration, not in the state). The
 * process umask still applies, so a stricter umask (0077) gives 0600.
 */
export const STATE_FILE_MODE = 0o640;

/** The bound on each read or write of a state file. A local disk needs milliseconds; this is for a hung mount. */
export const STATE_FILE_TIMEOUT_MS = 2000;

/** The default size bound of `readJsonState`: far above any small state file. */
export const DEFAULT_MAX_STATE_BYTES = 1024 * 1024;

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY;
const READ_FOLLOWING_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
const TEMP_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NOCTTY;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK;
/** Reads go in steps of this much (or the file's size, when larger), so a small file costs a small buffer. */
const READ_CHUNK = 64 * 1024;

// ------------------------------------------------------------------ types

/** What a bounded step asks between its parts: the timeout error once the deadline has passed. */
export type Expired = () => StateFileTimeoutError | undefined;

/** Why a file was set aside: the suffix of its new name. */
export type SetAsideReason = 'corrupt' | 'oversized' | 'not-regular' | 'unreadable';

export interface StateFileProblem {
  /** The error's code: which of the failures in errors.ts it was. */
  code: StateFileError['code'];
  path: string;
  /** What was wrong, for the log (the error's message, and what else failed while recovering). */
  reason: string;
  /** Where the file was moved, when it was set aside. */
  setAsideTo?: string;
  /** True when a replacement was written in its place. */
  replaced?: boolean;
}

export interface LoadedStateFile<T> {
  /** The parsed state; undefined when the file is missing or could not be used. */
  value: T | undefined;
  /** Set when something stood at the path that could not be used. */
  problem?: StateFileProblem;
  /** The typed error behind `problem`, for a caller that throws it on. */
  error?: StateFileError;
}

export interface LoadStateFileOptions<T> {
  /** Reads above this many bytes are refused, unread (and the file set aside). */
  maxBytes: number;
  /** Checks and converts the file's text; throws when it is not a valid state. */
  parse: (text: string) => T;
  /** What is written in place of a file that was set aside; nothing when absent. */
  replacement?: () => string;
  /** For the name of a set-aside file (wall clock, ms since the epoch). */
  now?: () => number;
  timeoutMs?: number;
}

// ------------------------------------------------------------ public API

/**
 * Loads a state file: reads it (see the module comment), parses it, and on
 * any problem sets the file aside where that is safe and writes the
 * replacement. Never throws: a problem is returned, with its typed error.
 */
export async function loadStateFile<T>(
  path: string,
  options: LoadStateFileOptions<T>,
): Promise<LoadedStateFile<T>> {
  try {
    return await withinBound(path, 'read', options.timeoutMs ?? STATE_FILE_TIMEOUT_MS, (expired) =>
      loadNow(path, options, expired),
    );
  } catch (error) {
    const failure = asStateFileError(error, path, 'read');
    return { value: undefined, problem: problemOf(failure), error: failure };
  }
}

/**
 * Reads `path` if it is a regular file of at most `maxBytes`, as UTF-8;
 * undefined when nothing is there. Throws the typed errors of errors.ts.
 */
export async function readStateText(
  path: string,
  options: { maxBytes: number; timeoutMs?: number },
): Promise<string | undefined> {
  return withinBound(path, 'read', options.timeoutMs ?? STATE_FILE_TIMEOUT_MS, (expired) =>
    readNow(path, options.maxBytes, expired),
  );
}

export interface ReadRegularFileOptions {
  /** More than this many bytes is refused (`StateFileTooLargeError`), and never read. */
  maxBytes: number;
  /** Follow a symbolic link to a regular file (default false: a link is refused as not regular). */
  followLinks?: boolean;
  timeoutMs?: number;
}

/**
 * The bytes of a regular file of at most `maxBytes`; undefined when nothing
 * is at `path`. Throws the typed errors of errors.ts: not regular (a FIFO,
 * socket or device is never opened in a way that can block), a directory,
 * too large, unreadable, timed out.
 */
export async function readRegularFile(
  path: string,
  options: ReadRegularFileOptions,
): Promise<Buffer | undefined> {
  return withinBound(path, 'read', options.timeoutMs ?? STATE_FILE_TIMEOUT_MS, (expired) =>
    readBytesNow(path, options.maxBytes, options.followLinks ?? false, expired),
  );
}

/**
 * Replaces `path` with `text` atomically (temporary file created 0640 with
 * O_EXCL | O_NOFOLLOW, fsync, rename, fsync of the directory), creating the
 * directory when missing. Throws a typed error on failure, leaving the
 * previous file as it was.
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  await withinBound(path, 'write', options.timeoutMs ?? STATE_FILE_TIMEOUT_MS, (expired) =>
    writeNow(path, text, expired),
  );
}

/** Creates the state directory when missing; throws `StateDirUnusableError` when it is not a usable directory. */
export async function ensureStateDir(dir: string, options: { timeoutMs?: number } = {}): Promise<void> {
  await withinBound(dir, 'write', options.timeoutMs ?? STATE_FILE_TIMEOUT_MS, () => ensureDirNow(dir));
}

/**
 * Removes temporary files a crash left between writing and renaming (they
 * hold nothing needed). Never throws: a real problem shows on the read.
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix)) await unlink(join(dirname(path), name)).catch(() => undefined);
  }
}

/**
 * Runs one file step with a deadline. On the deadline the returned promise
 * rejects with `StateFileTimeoutError`, and `expired()` returns it so the
 * step starts nothing more; what is already in the operating system's hands
 * finishes (or not) on its own.
 */
export async function withinBound<T>(
  path: string,
  operation: 'read' | 'write',
  timeoutMs: number,
  step: (expired: Expired) => Promise<T>,
): Promise<T> {
  let timedOut: StateFileTimeoutError | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = new StateFileTimeoutError(path, operation, timeoutMs);
      reject(timedOut);
    }, timeoutMs);
  });
  const work = step(() => timedOut);
  // A step that fails after its deadline has nobody left to tell.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// ----------------------------------------------------------- JSON state

export interface StateFileRead<T> {
  value: T;
  /** Set when the file existed but could not be used; `value` is then the fallback. */
  problem?: StateFileProblem;
}

export interface ReadStateOptions<T> {
  /** Checks and converts the parsed JSON; throws when it is not a valid state. */
  parse: (raw: unknown) => T;
  fallback: T;
  /** What is written in place of a bad file (the fallback as the file holds it); the fallback itself by default. */
  serialize?: (value: T) => unknown;
  /** Size bound (default `DEFAULT_MAX_STATE_BYTES`). */
  maxBytes?: number;
  logger?: Logger;
  /** For the name of the set-aside file (wall clock, ms since the epoch). */
  now?: () => number;
  timeoutMs?: number;
}

/**
 * Reads a JSON state file; never throws. A missing file gives the fallback.
 * Anything else that cannot be used is reported (logged once here, and
 * returned), set aside when safe and replaced by the fallback: a bad state
 * file must never stop the service from starting.
 */
export async function readJsonState<T>(
  path: string,
  options: ReadStateOptions<T>,
): Promise<StateFileRead<T>> {
  const loaded = await loadStateFile(path, {
    maxBytes: options.maxBytes ?? DEFAULT_MAX_STATE_BYTES,
    parse: (text) => options.parse(JSON.parse(text) as unknown),
    replacement: () => jsonText(options.serialize ? options.serialize(options.fallback) : options.fallback),
    ...(options.now && { now: options.now }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });
  const { problem } = loaded;
  if (problem === undefined) return { value: loaded.value ?? options.fallback };
  if (problem.setAsideTo !== undefined) {
    options.logger?.warn({ problem }, 'state file could not be used: set aside and replaced with defaults');
  } else {
    // Left where it is: it will be there next time too, and needs a person.
    options.logger?.error({ problem }, 'state file could not be used: running with defaults');
  }
  return { value: options.fallback, problem };
}

/** Writes `value` as JSON with `writeFileAtomic`. Throws on failure (a value JSON cannot hold: before any file is touched). */
export async function writeJsonState(
  path: string,
  value: unknown,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  await writeFileAtomic(path, jsonText(value), options);
}

// -------------------------------------------------------------- reading

async function loadNow<T>(
  path: string,
  options: LoadStateFileOptions<T>,
  expired: Expired,
): Promise<LoadedStateFile<T>> {
  await removeStaleTemps(path);
  let failure: StateFileError;
  try {
    const text = await readNow(path, options.maxBytes, expired);
    if (text === undefined) return { value: undefined };
    try {
      return { value: options.parse(text) };
    } catch (error) {
      failure = new StateFileCorruptError(path, describe(error));
    }
  } catch (error) {
    failure = asStateFileError(error, path, 'read');
  }
  return recover(path, failure, options, expired);
}

async function readNow(path: string, maxBytes: number, expired: Expired): Promise<string | undefined> {
  return (await readBytesNow(path, maxBytes, false, expired))?.toString('utf8');
}

async function readBytesNow(
  path: string,
  maxBytes: number,
  followLinks: boolean,
  expired: Expired,
): Promise<Buffer | undefined> {
  let before: Stats;
  try {
    before = followLinks ? await stat(path) : await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    if (errorCode(error) === 'ENOTDIR') throw new StateDirUnusableError(dirname(path), error);
    throw new StateFileUnreadableError(path, error);
  }
  checkRegular(path, before, maxBytes);
  stopIfExpired(expired);

  let handle: FileHandle;
  try {
    handle = await open(path, followLinks ? READ_FOLLOWING_FLAGS : READ_FLAGS);
  } catch (error) {
    switch (errorCode(error)) {
      case 'ENOENT':
        return undefined; // removed since the lstat
      case 'ELOOP':
        // Not following: swapped for a link since the lstat. Following: a loop of links.
        if (followLinks) throw new StateFileUnreadableError(path, error);
        throw new StateFileNotRegularError(path, 'symbolic link');
      case 'ENXIO':
        throw new StateFileNotRegularError(path, 'socket');
      default:
        throw new StateFileUnreadableError(path, error);
    }
  }
  try {
    // The descriptor is what will be read: check it, not the name (it may have been swapped).
    const stats = await handle.stat();
    checkRegular(path, stats, maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      stopIfExpired(expired);
      const room = maxBytes + 1 - total;
      const buffer = Buffer.allocUnsafe(Math.min(room, Math.max(READ_CHUNK, stats.size + 1 - total)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      // Grown since the fstat: never read past the bound.
      if (total > maxBytes) throw new StateFileTooLargeError(path, total, maxBytes);
    }
    // Read whole in one go (the usual case: the buffer was sized from fstat): no second copy.
    return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, total);
  } catch (error) {
    throw TetherError.is(error) ? error : new StateFileUnreadableError(path, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function checkRegular(path: string, stats: Stats, maxBytes: number): void {
  const found = kindOf(stats);
  if (found === 'directory') throw new StateFileIsDirectoryError(path);
  if (found !== 'file') throw new StateFileNotRegularError(path, found);
  if (stats.size > maxBytes) throw new StateFileTooLargeError(path, stats.size, maxBytes);
}

function kindOf(stats: Stats): FoundKind | 'file' {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symbolic link';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'character device';
  return 'block device';
}

// ------------------------------------------------------------- recovery

const SET_ASIDE: Partial<Record<StateFileError['code'], SetAsideReason>> = {
  TETHER_STATE_FILE_CORRUPT: 'corrupt',
  TETHER_STATE_FILE_TOO_LARGE: 'oversized',
  TETHER_STATE_FILE_NOT_REGULAR: 'not-regular',
  TETHER_STATE_FILE_UNREADABLE: 'unreadable',
};

/** Sets the file aside when that is safe (never a directory), then writes the replacement. */
async function recover<T>(
  path: string,
  failure: StateFileError,
  options: LoadStateFileOptions<T>,
  expired: Expired,
): Promise<LoadedStateFile<T>> {
  const problem = problemOf(failure);
  const why = SET_ASIDE[failure.code];
  if (why === undefined || expired() !== undefined) return { value: undefined, problem, error: failure };
  const aside = `${path}.${why}-${stamp(options.now?.() ?? Date.now())}`;
  try {
    // rename moves a FIFO, socket or link itself: nothing is opened or followed.
    await rename(path, aside);
    problem.setAsideTo = aside;
  } catch (error) {
    problem.reason += `; could not set it aside: ${describe(error)}`;
    return { value: undefined, problem, error: failure };
  }
  if (options.replacement !== undefined && expired() === undefined) {
    try {
      await writeNow(path, options.replacement(), expired);
      problem.replaced = true;
    } catch (error) {
      // The next successful write replaces it; meanwhile the path is free, so the next read finds nothing.
      problem.reason += `; could not replace it: ${describe(error)}`;
    }
  }
  return { value: undefined, problem, error: failure };
}

function problemOf(failure: StateFileError): StateFileProblem {
  return { code: failure.code, path: String(failure.detail['path']), reason: failure.message };
}

// -------------------------------------------------------------- writing

async function writeNow(path: string, text: string, expired: Expired): Promise<void> {
  const dir = dirname(path);
  await ensureDirNow(dir);
  // Same directory, so the rename stays on one file system; a unique name, so two writers never share it.
  const temp = join(dir, `${tempPrefix(path)}${process.pid}-${randomBytes(4).toString('hex')}`);
  let handle: FileHandle;
  try {
    handle = await open(temp, TEMP_FLAGS, STATE_FILE_MODE);
  } catch (error) {
    // Not ours to remove: O_EXCL refused whatever stands at that name.
    throw errorCode(error) === 'ENOTDIR'
      ? new StateDirUnusableError(dir, error)
      : new StateFileWriteError(path, error);
  }
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    stopIfExpired(expired);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw TetherError.is(error) ? error : new StateFileWriteError(path, error);
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    switch (errorCode(error)) {
      case 'EISDIR':
      case 'ENOTEMPTY':
      case 'EEXIST':
        // rename(2) will not replace a directory with a file.
        throw new StateFileIsDirectoryError(path);
      default:
        throw new StateFileWriteError(path, error);
    }
  }
  await syncDirectory(dir);
}

async function ensureDirNow(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    // EEXIST: a file (or FIFO, ...) by that name; ENOTDIR: one further up; EACCES, EROFS: not ours to make.
    throw new StateDirUnusableError(dir, error);
  }
}

/** Makes a rename in `dir` durable. Some file systems refuse fsync on a directory: then there is nothing more to do. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, DIR_FLAGS);
    await handle.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EACCES') {
      throw new StateFileWriteError(dir, error);
    }
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

// -------------------------------------------------------------- helpers

/** Temporary files are hidden, and named after the file they will replace. */
function tempPrefix(path: string): string {
  return `.${basename(path)}.tmp-`;
}

function stopIfExpired(expired: Expired): void {
  // The deadline has already rejected the caller's promise; this only stops the work.
  const timedOut = expired();
  if (timedOut !== undefined) throw timedOut;
}

function asStateFileError(error: unknown, path: string, operation: 'read' | 'write'): StateFileError {
  if (isStateFileError(error)) return error;
  return operation === 'read'
    ? new StateFileUnreadableError(path, error)
    : new StateFileWriteError(path, error);
}

function isStateFileError(error: unknown): error is StateFileError {
  return (
    TetherError.is(error) &&
    (error.code.startsWith('TETHER_STATE_FILE_') || error.code === 'TETHER_STATE_DIR_UNUSABLE')
  );
}

function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** An ISO time without ':' or '.', which some file systems and tools mishandle in names (a volume seen from Windows). */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[:.]/g, '-');
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

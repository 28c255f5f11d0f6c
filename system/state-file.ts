/**
 * Small JSON files in the state directory that must survive an exit, a
 * crash or a power cut.
 *
 * Writes are atomic: the new content goes to a temporary file in the same
 * directory (a rename is only atomic within one file system), is fsynced,
 * renamed over the old file, and the directory is fsynced so the rename
 * itself is durable. A reader therefore sees the old file or the new one,
 * never half of one.
 *
 * Reads never throw. A missing file gives the fallback. A file that is not
 * valid (empty, truncated, not JSON, the wrong shape) is reported, set aside
 * as `<file>.corrupt-<time>` for a person to look at, and replaced by the
 * fallback: a bad state file must never stop the service from starting.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../runtime/logger.js';

export interface StateFileProblem {
  /** `corrupt`: the content is not valid (set aside); `unreadable`: the file could not be read (left alone). */
  kind: 'corrupt' | 'unreadable';
  path: string;
  /** Where the corrupt file was moved, when it could be. */
  setAsideTo?: string;
  /** What was wrong, for the log. */
  reason: string;
}

export interface StateFileRead<T> {
  value: T;
  /** Set when the file existed but could not be used; `value` is then the fallback. */
  problem?: StateFileProblem;
}

export interface ReadStateOptions<T> {
  /** Checks and converts the parsed JSON; throws when it is not a valid state. */
  parse: (raw: unknown) => T;
  fallback: T;
  /** What is written in place of a corrupt file (the fallback as the file holds it); the fallback itself by default. */
  serialize?: (value: T) => unknown;
  logger?: Logger;
  /** For the name of the set-aside file (wall clock, ms since the epoch). */
  now?: () => number;
}

/** Reads a JSON state file; never throws (see the module comment). */
export async function readJsonState<T>(
  path: string,
  options: ReadStateOptions<T>,
): Promise<StateFileRead<T>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { value: options.fallback };
    // Permissions or a directory in the way: moving it would likely fail too, and it may be an operator's doing.
    const problem: StateFileProblem = { kind: 'unreadable', path, reason: describe(error) };
    options.logger?.warn({ problem }, 'state file unreadable; using defaults');
    return { value: options.fallback, problem };
  }

  let value: T;
  try {
    value = options.parse(JSON.parse(text) as unknown);
  } catch (error) {
    const problem: StateFileProblem = { kind: 'corrupt', path, reason: describe(error) };
    const aside = `${path}.corrupt-${isoForFileName(options.now?.() ?? Date.now())}`;
    try {
      await rename(path, aside);
      problem.setAsideTo = aside;
    } catch (renameError) {
      problem.reason += `; could not set it aside: ${describe(renameError)}`;
    }
    try {
      await writeJsonState(path, options.serialize ? options.serialize(options.fallback) : options.fallback);
    } catch (writeError) {
      // The next successful write replaces it; reading again meanwhile reports it again.
      problem.reason += `; could not replace it: ${describe(writeError)}`;
    }
    options.logger?.warn({ problem }, 'state file corrupt; set aside and replaced with defaults');
    return { value: options.fallback, problem };
  }
  return { value };
}

/**
 * Writes `value` as JSON atomically (temporary file, fsync, rename, fsync of
 * the directory). Creates the directory when missing. Throws on failure,
 * leaving the previous file as it was.
 */
export async function writeJsonState(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  // Same directory, so the rename stays on one file system; a unique name, so two writers never share it.
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const file = await open(temp, 'w', 0o640);
    try {
      await file.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes a rename in `dir` durable. Some file systems refuse fsync on a directory: then there is nothing more to do. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EACCES') throw error;
  } finally {
    await handle?.close();
  }
}

/** An ISO time without colons, which some file systems and tools mishandle in names (a volume seen from Windows). */
function isoForFileName(ms: number): string {
  return new Date(ms).toISOString().replace(/:/g, '-');
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

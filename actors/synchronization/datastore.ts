/**
 * The embedded datastore: the service's memory of each controller's blocks,
 * one JSON file per device in the state directory,
 * `<stateDir>/blocks-<deviceId>.json`.
 *
 * One file per device rather than one map for all: a corrupt file then
 * costs one controller's memory, not every controller's, and saving one
 * device never rewrites another's.
 *
 * Writes are atomic: the new content goes to a temporary file in the same
 * directory, is flushed to disk, renamed over the old file, and the
 * directory is flushed so the rename itself survives a power cut. A reader
 * therefore sees the old file or the new one, never half of one. A file
 * that is corrupt anyway (edited by hand, a disk fault) never crashes the
 * service: it is set aside as `<name>.corrupt-<timestamp>` for a person to
 * look at, replaced by an empty store, and reported to the caller.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Block } from '../../protocol/index.js';
import { isBlockId, isJsonObject } from '../../protocol/index.js';
import { DatastoreError } from './errors.js';

/** Bumped when the file's shape changes; a file of another format is treated as unreadable. */
export const DATASTORE_FORMAT = 1;

const DEVICE_ID = /^[0-9a-f]{24}$/i;

export interface StoredBlocks {
  /** Lower case. */
  deviceId: string;
  blocks: Block[];
  /** ISO time of the last save, or null for a store never saved. */
  savedAt: string | null;
}

export interface LoadResult {
  store: StoredBlocks;
  path: string;
  /** Set when the file was corrupt: why, and where it was moved. */
  recovered?: { reason: string; setAsideAs: string };
}

/** What synchronization needs of a datastore (a fake in tests). */
export interface BlockDatastore {
  load(deviceId: string): Promise<LoadResult>;
  save(store: StoredBlocks): Promise<void>;
}

export interface FileDatastoreOptions {
  /** ms since epoch, for savedAt and the name of a set-aside file. */
  now?: () => number;
}

export class FileDatastore implements BlockDatastore {
  readonly dir: string;
  readonly #now: () => number;

  constructor(dir: string, options: FileDatastoreOptions = {}) {
    this.dir = dir;
    this.#now = options.now ?? Date.now;
  }

  /** The file of a device. Rejects an id that is not 24 hex digits, so a controller cannot name a path. */
  pathFor(deviceId: string): string {
    if (!DEVICE_ID.test(deviceId)) {
      throw new DatastoreError('naming', deviceId, 'a device id must be 24 hex digits');
    }
    return join(this.dir, `blocks-${deviceId.toLowerCase()}.json`);
  }

  /** A missing file is an empty store; a corrupt one is set aside and replaced by an empty one. */
  async load(deviceId: string): Promise<LoadResult> {
    const path = this.pathFor(deviceId);
    const empty: StoredBlocks = { deviceId: deviceId.toLowerCase(), blocks: [], savedAt: null };
    await this.#ensureDir();
    await this.#removeStaleTemps(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { store: empty, path };
      throw new DatastoreError('read', path, error);
    }
    const parsed = parseStore(text, empty.deviceId);
    if (parsed.ok) return { store: parsed.store, path };

    const setAsideAs = `${path}.corrupt-${stamp(this.#now())}`;
    try {
      await rename(path, setAsideAs);
      await writeFileAtomic(path, serialize(empty));
    } catch (error) {
      throw new DatastoreError('recovery', path, error);
    }
    return { store: empty, path, recovered: { reason: parsed.reason, setAsideAs } };
  }

  async save(store: StoredBlocks): Promise<void> {
    const path = this.pathFor(store.deviceId);
    await this.#ensureDir();
    const saved: StoredBlocks = {
      deviceId: store.deviceId.toLowerCase(),
      blocks: store.blocks,
      savedAt: new Date(this.#now()).toISOString(),
    };
    try {
      await writeFileAtomic(path, serialize(saved));
    } catch (error) {
      throw new DatastoreError('write', path, error);
    }
  }

  async #ensureDir(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw new DatastoreError('mkdir', this.dir, error);
    }
  }

  /** A crash between writing a temp file and renaming it leaves the temp file behind; it holds nothing needed. */
  async #removeStaleTemps(path: string): Promise<void> {
    const prefix = `${basename(path)}.tmp-`;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return; // the read of the file itself will report a real problem
    }
    for (const name of names) {
      if (name.startsWith(prefix)) await unlink(join(this.dir, name)).catch(() => undefined);
    }
  }
}

// ------------------------------------------------------------- atomic write

/**
 * Replaces `path` with `text` so that a reader (or a reboot) sees either the
 * old content or the new, never a mix: temp file in the same directory (a
 * rename is only atomic within one file system), fsync, rename, fsync the
 * directory. The temp file is removed if anything fails before the rename.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some platforms and file systems cannot fsync a directory; the rename has happened either way.
    if (!isErrno(error, 'EISDIR') && !isErrno(error, 'EINVAL') && !isErrno(error, 'EPERM')) throw error;
  } finally {
    await handle?.close();
  }
}

// ------------------------------------------------------------------ format

function serialize(store: StoredBlocks): string {
  return `${JSON.stringify({ format: DATASTORE_FORMAT, ...store }, null, 2)}\n`;
}

type Parsed = { ok: true; store: StoredBlocks } | { ok: false; reason: string };

function parseStore(text: string, deviceId: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (!isJsonObject(value)) return { ok: false, reason: 'not a JSON object' };
  if (value.format !== DATASTORE_FORMAT) {
    return { ok: false, reason: `unknown format ${JSON.stringify(value.format)}` };
  }
  if (typeof value.deviceId !== 'string' || value.deviceId.toLowerCase() !== deviceId) {
    return { ok: false, reason: `belongs to device ${JSON.stringify(value.deviceId)}` };
  }
  if (value.savedAt !== null && typeof value.savedAt !== 'string') {
    return { ok: false, reason: 'savedAt is not a string or null' };
  }
  if (!Array.isArray(value.blocks)) return { ok: false, reason: 'blocks is not an array' };
  const blocks: Block[] = [];
  for (const [index, block] of value.blocks.entries()) {
    if (
      !isJsonObject(block) ||
      !isBlockId(block.id) ||
      typeof block.type !== 'string' ||
      !isJsonObject(block.data)
    ) {
      return { ok: false, reason: `blocks[${index}] is not a block {id, type, data}` };
    }
    blocks.push({ id: block.id, type: block.type, data: block.data });
  }
  return { ok: true, store: { deviceId, blocks, savedAt: value.savedAt } };
}

// ------------------------------------------------------------------ helpers

function stamp(ms: number): string {
  // ISO time without the characters some file systems refuse (':').
  return new Date(ms).toISOString().replace(/[:.]/g, '-');
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

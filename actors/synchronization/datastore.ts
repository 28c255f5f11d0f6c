/**
 * The embedded datastore: the service's memory of each controller's blocks,
 * one JSON file per device in the state directory,
 * `<stateDir>/blocks-<deviceId>.json`.
 *
 * One file per device rather than one map for all: a corrupt file then
 * costs one controller's memory, not every controller's, and saving one
 * device never rewrites another's.
 *
 * The file is read and written through system/state-file.ts, as every state
 * file is: writes are atomic (the old content or the new, never a mix) with
 * one file mode, only a regular file of at most `MAX_BLOCKS_FILE_BYTES` is
 * ever opened and read, and every step is bounded in time. A file that
 * cannot be used never crashes the service: a corrupt, oversized or
 * unreadable one, or a FIFO, socket, device or link in its place, is set
 * aside as `<name>.<why>-<timestamp>` for a person to look at, replaced by
 * an empty store, and reported to the caller (`LoadResult.recovered`). A
 * directory in its place, or a state directory that is not one, is left
 * alone and thrown as its coded error: the caller goes on without a store.
 */
import { join } from 'node:path';
import type { Block } from '../../protocol/index.js';
import { isBlockId, isJsonObject } from '../../protocol/index.js';
import type { StateFileError } from '../../system/errors.js';
import { ensureStateDir, loadStateFile, writeFileAtomic } from '../../system/state-file.js';
import { DatastoreError } from './errors.js';

/**
 * Bumped when the file's shape changes; a file of another format is treated
 * as unreadable. Format 2 added the block names (the blocks API); a file of
 * format 1 is read as a store without names, and written back as format 2.
 */
export const DATASTORE_FORMAT = 2;
const READABLE_FORMATS: readonly unknown[] = [1, DATASTORE_FORMAT];

const DEVICE_ID = /^[0-9a-f]{24}$/i;

/**
 * The largest blocks file read. The simulator holds at most 200 user blocks,
 * about 160 KiB as a file with blocks of a dozen fields each; this bound is
 * 25 times that, and a valid store at the bound loads within the
 * synchronization actor's default 64 MB heap with half of it to spare
 * (docs/performance.md, "State files"). A larger file is set aside unread.
 */
export const MAX_BLOCKS_FILE_BYTES = 4 * 1024 * 1024;

/** A block's name, which only the service knows (the controller has ids). */
export interface BlockName {
  id: number;
  name: string;
}

export interface StoredBlocks {
  /** Lower case. */
  deviceId: string;
  blocks: Block[];
  /** The names of the controller's blocks, unique; absent in a store written before names (format 1). */
  names?: BlockName[];
  /** ISO time of the last save, or null for a store never saved. */
  savedAt: string | null;
}

export interface LoadResult {
  store: StoredBlocks;
  path: string;
  /** Set when the file could not be used and was set aside: which error, why, and where it was moved. */
  recovered?: { code: StateFileError['code']; reason: string; setAsideAs: string };
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

  /**
   * A missing file is an empty store; one that cannot be used is set aside
   * and replaced by an empty one (`recovered`). Throws the coded error of a
   * directory in the file's place or a state directory that is not one.
   */
  async load(deviceId: string): Promise<LoadResult> {
    const path = this.pathFor(deviceId);
    const empty: StoredBlocks = { deviceId: deviceId.toLowerCase(), blocks: [], savedAt: null };
    await ensureStateDir(this.dir);
    const loaded = await loadStateFile(path, {
      maxBytes: MAX_BLOCKS_FILE_BYTES,
      parse: (text) => parseStore(text, empty.deviceId),
      replacement: () => serialize(empty),
      now: this.#now,
    });
    const { problem } = loaded;
    if (problem === undefined) return { store: loaded.value ?? empty, path };
    if (problem.setAsideTo === undefined) throw loaded.error;
    return {
      store: empty,
      path,
      recovered: { code: problem.code, reason: problem.reason, setAsideAs: problem.setAsideTo },
    };
  }

  /** Writes the store atomically; throws the coded error of system/errors.ts when it cannot. */
  async save(store: StoredBlocks): Promise<void> {
    const path = this.pathFor(store.deviceId);
    const saved: StoredBlocks = {
      deviceId: store.deviceId.toLowerCase(),
      blocks: store.blocks,
      names: store.names ?? [],
      savedAt: new Date(this.#now()).toISOString(),
    };
    await writeFileAtomic(path, serialize(saved));
  }
}

// ------------------------------------------------------------------ format

function serialize(store: StoredBlocks): string {
  return `${JSON.stringify({ format: DATASTORE_FORMAT, ...store }, null, 2)}\n`;
}

/** The store in `text`; throws (with the reason) when it is not a valid store of `deviceId`. */
function parseStore(text: string, deviceId: string): StoredBlocks {
  const parsed = checkStore(text, deviceId);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.store;
}

type Parsed = { ok: true; store: StoredBlocks } | { ok: false; reason: string };

function checkStore(text: string, deviceId: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (!isJsonObject(value)) return { ok: false, reason: 'not a JSON object' };
  if (!READABLE_FORMATS.includes(value.format)) {
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
  const names: BlockName[] = [];
  if (value.names !== undefined) {
    if (!Array.isArray(value.names)) return { ok: false, reason: 'names is not an array' };
    const seen = new Set<string>();
    for (const [index, entry] of value.names.entries()) {
      if (
        !isJsonObject(entry) ||
        !isBlockId(entry.id) ||
        typeof entry.name !== 'string' ||
        entry.name === ''
      ) {
        return { ok: false, reason: `names[${index}] is not {id, name}` };
      }
      // A name given twice (a hand edit) keeps its first block rather than costing every name.
      if (seen.has(entry.name)) continue;
      seen.add(entry.name);
      names.push({ id: entry.id, name: entry.name });
    }
  }
  return { ok: true, store: { deviceId, blocks, names, savedAt: value.savedAt } };
}

/**
 * The blocks API as the surfaces (HTTP, CLI) and the tasks (backup, restore)
 * see it: blocks by id or by name, the names kept by the service (the
 * controller knows only ids). Fast commands, not tasks: each is one or two
 * requests to the controller.
 *
 * - A block is named by a string of digits (its id) or by its name; a name
 *   is therefore never all digits. Names are unique per controller;
 *   renaming is a write of the name.
 * - System blocks (ids 1..99) have fixed names (`SysInfo`, `Ticks`) and can
 *   be neither deleted nor renamed.
 * - Errors the controller answers keep its code (`ControllerError`,
 *   `detail.controllerCode`: BLOCK_NOT_FOUND, INVALID_BLOCK_TYPE,
 *   INSUFFICIENT_STORAGE, ...); the service's own are below.
 */
import type { JsonObject } from '../protocol/index.js';
import { MAX_SYSTEM_BLOCK_ID, SYSINFO_BLOCK_ID, TICKS_BLOCK_ID } from '../protocol/index.js';
import { TetherError, quote, registerErrorClass } from '../errors/index.js';

export interface BlockView {
  id: number;
  /** null for a block the service has no name for (created behind its back, before it knew). */
  name: string | null;
  type: string;
  data: JsonObject;
}

export interface NewBlockInput {
  /** Chosen by the controller when absent (ids 1..99 are system blocks). */
  id?: number;
  /** `<type>-<id>` (made unique) when absent. */
  name?: string;
  type: string;
  data: JsonObject;
}

export interface BlockWriteInput {
  /** The block's current type when absent. */
  type?: string;
  data: JsonObject;
  /** A new name (a rename), or absent to keep it. */
  name?: string;
}

export interface BlockPatchInput {
  /** Merged into the block's current data (RFC 7386: null removes a key, objects merge). */
  data?: JsonObject;
  name?: string;
}

/** What to do between the blocks of a long listing. */
export interface ListOptions {
  signal?: AbortSignal;
  /** Called after each block when the listing goes block by block. */
  onBlock?: (done: number, total: number) => void;
}

export interface BlocksApi {
  list(options?: ListOptions): Promise<BlockView[]>;
  read(ref: string | number): Promise<BlockView>;
  create(input: NewBlockInput): Promise<BlockView>;
  write(ref: string | number, input: BlockWriteInput): Promise<BlockView>;
  patch(ref: string | number, input: BlockPatchInput): Promise<BlockView>;
  delete(ref: string | number): Promise<{ id: number; name: string | null }>;
  /** Deletes every user block (BLOCK_CLEAR) and forgets their names. */
  deleteAll(): Promise<{ forgotten: number }>;
  /** Resolves when every name change so far is on disk. */
  flush(): Promise<void>;
  /** The device the names belong to (the acknowledged controller's id, lower case). */
  deviceId(): string;
}

/** Fixed names of the system blocks; no user block may take them. */
export const SYSTEM_BLOCK_NAMES: ReadonlyMap<number, string> = new Map([
  [SYSINFO_BLOCK_ID, 'SysInfo'],
  [TICKS_BLOCK_ID, 'Ticks'],
]);

export function isSystemBlockId(id: number): boolean {
  return id >= 1 && id <= MAX_SYSTEM_BLOCK_ID;
}

export const MAX_BLOCK_NAME_LENGTH = 128;

/** Why `name` cannot name a block, or undefined when it can. */
export function blockNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name is not empty';
  if (name.length > MAX_BLOCK_NAME_LENGTH) return `a name has at most ${MAX_BLOCK_NAME_LENGTH} characters`;
  if (/^\d+$/.test(name)) return 'a name is not all digits (those name block ids)';
  if (name.trim() !== name) return 'a name does not begin or end with white space';
  // Control, format and separator characters could hide what a name says on a terminal or in a log.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) return 'a name has no control or format characters';
  if ([...SYSTEM_BLOCK_NAMES.values()].includes(name)) return `"${name}" is a system block's name`;
  return undefined;
}

// ------------------------------------------------------------------ errors

export class BlockNameNotFoundError extends TetherError {
  declare readonly code: 'TETHER_BLOCK_NAME_NOT_FOUND';
  constructor(name: string) {
    super('TETHER_BLOCK_NAME_NOT_FOUND', `no block named "${quote(name)}" on this controller`, {
      detail: { name: quote(name) },
    });
  }
}

export class BlockNameTakenError extends TetherError {
  declare readonly code: 'TETHER_BLOCK_NAME_TAKEN';
  constructor(name: string, id: number) {
    super('TETHER_BLOCK_NAME_TAKEN', `block ${id} is already named "${quote(name)}"`, {
      detail: { name: quote(name), id },
    });
  }
}

export class BlockNameInvalidError extends TetherError {
  declare readonly code: 'TETHER_BLOCK_NAME_INVALID';
  constructor(name: string, why: string) {
    super('TETHER_BLOCK_NAME_INVALID', `cannot name a block "${quote(name)}": ${why}`, {
      detail: { name: quote(name), why },
    });
  }
}

export class SystemBlockError extends TetherError {
  declare readonly code: 'TETHER_SYSTEM_BLOCK';
  constructor(id: number, action: string) {
    super('TETHER_SYSTEM_BLOCK', `block ${id} is a system block: it cannot be ${action}`, {
      detail: { id, action },
    });
  }
}

registerErrorClass('TETHER_BLOCK_NAME_NOT_FOUND', BlockNameNotFoundError);
registerErrorClass('TETHER_BLOCK_NAME_TAKEN', BlockNameTakenError);
registerErrorClass('TETHER_BLOCK_NAME_INVALID', BlockNameInvalidError);
registerErrorClass('TETHER_SYSTEM_BLOCK', SystemBlockError);

/**
 * The blocks API (contracts/blocks.ts) in the main thread: each operation is
 * one or two requests to the controller through the commander, and the
 * names, which only the service knows, live in the block datastore
 * (actors/synchronization/datastore.ts, written atomically through
 * system/state-file.ts), one file per controller.
 *
 * - The names of the Synchronized controller are loaded on first use and
 *   kept in memory; each change is written back, one write at a time, the
 *   latest state winning (a restore of 2,000 blocks writes the file a few
 *   times, not 2,000).
 * - Every block the service creates gets a name (`<type>-<id>` unless one is
 *   given), so the names are also the service's inventory of the controller:
 *   a controller's BLOCK_LIST answer must fit one protocol line (8 KiB, a few
 *   dozen blocks), and when it does not, `list` reads the named blocks one
 *   by one instead.
 * - A listing that the controller answered in full is the truth: names of
 *   blocks that are gone are forgotten, and blocks without a name get one.
 * - A controller's refusal keeps its code (ControllerError); INSUFFICIENT_STORAGE
 *   is also a storage error of the component state.
 */
import type { BlockDatastore, BlockName, StoredBlocks } from '../actors/synchronization/datastore.js';
import type { CommandOptions, PhaseSource } from '../contracts/actors.js';
import { NotReadyError } from '../contracts/actors.js';
import type {
  BlockPatchInput,
  BlockView,
  BlockWriteInput,
  BlocksApi,
  ListOptions,
  NewBlockInput,
} from '../contracts/blocks.js';
import {
  BlockNameInvalidError,
  BlockNameNotFoundError,
  BlockNameTakenError,
  SYSTEM_BLOCK_NAMES,
  SystemBlockError,
  blockNameProblem,
  isSystemBlockId,
} from '../contracts/blocks.js';
import type { ComponentReport, ComponentSource } from '../contracts/component.js';
import { TetherError, describe } from '../errors/index.js';
import type { Block, Opcode, RequestPayload, ResponsePayload } from '../protocol/index.js';
import { isBlockId } from '../protocol/index.js';
import type { Logger } from '../runtime/index.js';
import { TaskAbortedError } from '../tasks/index.js';
import { mergePatch } from './merge-patch.js';

/** What the blocks API needs of the commander (a ref in the service, a fake in tests). */
export interface CommanderPort {
  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options?: CommandOptions,
  ): Promise<ResponsePayload<O>>;
}

/** The shortest time between two writes of a controller's names. */
const SAVE_INTERVAL_MS = 250;

export interface BlocksDeps {
  commander: CommanderPort;
  kernel: PhaseSource &
    ComponentSource & { reportComponent(generation: number, report: ComponentReport): boolean };
  datastore: BlockDatastore;
  logger: Logger;
}

/** One controller's names, both ways. */
interface Directory {
  readonly deviceId: string;
  readonly byId: Map<number, string>;
  readonly byName: Map<string, number>;
  /** What the datastore held besides the names: kept as it was. */
  readonly blocks: Block[];
}

export class Blocks implements BlocksApi {
  readonly #deps: BlocksDeps;
  #directory: Directory | undefined;
  #loading: Promise<Directory> | undefined;
  #saving: Promise<void> | undefined;
  #dirty = false;
  #lastSave = -Infinity;
  #hurry: (() => void) | undefined;
  /** The code of the last save failure logged, so a failing disk is logged once, not per change. */
  #lastSaveError: string | undefined;

  constructor(deps: BlocksDeps) {
    this.#deps = deps;
  }

  deviceId(): string {
    return this.#device().deviceId;
  }

  // ------------------------------------------------------------ reads

  async read(ref: string | number): Promise<BlockView> {
    const directory = await this.#load();
    const id = this.#resolve(directory, ref);
    const block = await this.#request('BLOCK_READ', { id });
    return this.#view(directory, block);
  }

  async list(options: ListOptions = {}): Promise<BlockView[]> {
    const directory = await this.#load();
    let blocks: Block[];
    let complete = true;
    try {
      blocks = await this.#request('BLOCK_LIST', undefined);
    } catch (error) {
      // The answer did not fit one line (the controller refused it, or it never arrived whole):
      // read the blocks the service knows, one by one.
      if (
        !TetherError.is(error, 'TETHER_CONTROLLER_ERROR') &&
        !TetherError.is(error, 'TETHER_COMMAND_TIMEOUT')
      ) {
        throw error;
      }
      this.#deps.logger.info(
        { event: 'blocks-list-fallback', code: error.code, known: directory.byId.size },
        'the controller could not list its blocks in one answer: reading the known blocks one by one',
      );
      blocks = await this.#readEach(directory, options);
      complete = false;
    }
    if (complete) this.#reconcile(directory, blocks);
    this.#report({ kind: 'blocks', count: blocks.length });
    return blocks.map((block) => this.#view(directory, block));
  }

  async #readEach(directory: Directory, options: ListOptions): Promise<Block[]> {
    const ids = [...new Set([...SYSTEM_BLOCK_NAMES.keys(), ...directory.byId.keys()])].sort((a, b) => a - b);
    const blocks: Block[] = [];
    for (const [index, id] of ids.entries()) {
      if (options.signal?.aborted === true) {
        throw new TaskAbortedError('aborted while listing blocks', { read: blocks.length });
      }
      try {
        blocks.push(await this.#request('BLOCK_READ', { id }));
      } catch (error) {
        if (!isControllerCode(error, 'BLOCK_NOT_FOUND')) throw error;
        this.#forget(directory, id);
      }
      options.onBlock?.(index + 1, ids.length);
    }
    return blocks;
  }

  // ----------------------------------------------------------- writes

  async create(input: NewBlockInput): Promise<BlockView> {
    const directory = await this.#load();
    if (input.name !== undefined) this.#checkName(directory, input.name, undefined);
    const { id, type, data } = input;
    const block = await this.#request('BLOCK_CREATE', id === undefined ? { type, data } : { id, type, data });
    // Checked again: another request may have taken the name while this one was on the wire.
    const wanted = input.name !== undefined && !directory.byName.has(input.name) ? input.name : undefined;
    this.#name(directory, block.id, wanted ?? autoName(directory, block.type, block.id));
    const count = this.#deps.kernel.component.blocks?.count;
    if (count !== undefined) this.#report({ kind: 'blocks', count: count + 1 });
    return this.#view(directory, block);
  }

  async write(ref: string | number, input: BlockWriteInput): Promise<BlockView> {
    const directory = await this.#load();
    const id = this.#resolve(directory, ref);
    this.#checkRename(directory, id, input.name);
    const type = input.type ?? (await this.#request('BLOCK_READ', { id })).type;
    const block = await this.#request('BLOCK_WRITE', { id, type, data: input.data });
    if (input.name !== undefined && !isSystemBlockId(id)) this.#name(directory, id, input.name);
    return this.#view(directory, block);
  }

  async patch(ref: string | number, input: BlockPatchInput): Promise<BlockView> {
    const directory = await this.#load();
    const id = this.#resolve(directory, ref);
    this.#checkRename(directory, id, input.name);
    let block = await this.#request('BLOCK_READ', { id });
    if (input.data !== undefined) {
      block = await this.#request('BLOCK_WRITE', {
        id,
        type: block.type,
        data: mergePatch(block.data, input.data),
      });
    }
    if (input.name !== undefined && !isSystemBlockId(id)) this.#name(directory, id, input.name);
    return this.#view(directory, block);
  }

  async delete(ref: string | number): Promise<{ id: number; name: string | null }> {
    const directory = await this.#load();
    const id = this.#resolve(directory, ref);
    if (isSystemBlockId(id)) throw new SystemBlockError(id, 'deleted');
    const name = directory.byId.get(id) ?? null;
    try {
      await this.#request('BLOCK_DELETE', { id });
    } catch (error) {
      // Gone already: its name is stale either way.
      if (isControllerCode(error, 'BLOCK_NOT_FOUND')) this.#forget(directory, id);
      throw error;
    }
    this.#forget(directory, id);
    const count = this.#deps.kernel.component.blocks?.count;
    if (count !== undefined && count > 0) this.#report({ kind: 'blocks', count: count - 1 });
    return { id, name };
  }

  async deleteAll(): Promise<{ forgotten: number }> {
    const directory = await this.#load();
    await this.#request('BLOCK_CLEAR', undefined);
    let forgotten = 0;
    for (const id of [...directory.byId.keys()]) {
      if (isSystemBlockId(id)) continue;
      this.#forget(directory, id);
      forgotten += 1;
    }
    this.#report({ kind: 'blocks', count: SYSTEM_BLOCK_NAMES.size });
    return { forgotten };
  }

  /** Resolves when every name change so far is on disk (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.#saving !== undefined) {
      this.#hurry?.();
      await this.#saving;
    }
  }

  // ------------------------------------------------------------ names

  #device(): { deviceId: string; generation: number } {
    const { phase } = this.#deps.kernel.state;
    if (phase.name !== 'Synchronized')
      throw new NotReadyError('a blocks API call', phase.name, 'Synchronized');
    return { deviceId: phase.ack.handshake.deviceId.toLowerCase(), generation: phase.generation };
  }

  /** The names of the Synchronized controller, loaded once per controller. */
  async #load(): Promise<Directory> {
    const { deviceId } = this.#device();
    if (this.#directory?.deviceId === deviceId) return this.#directory;
    // Pending writes belong to the previous controller's file: let them land first.
    await this.flush();
    this.#loading ??= this.#read(deviceId).finally(() => (this.#loading = undefined));
    const directory = await this.#loading;
    // Another controller may have come while this one loaded: load that one.
    if (directory.deviceId !== this.#device().deviceId) return this.#load();
    this.#directory = directory;
    return directory;
  }

  async #read(deviceId: string): Promise<Directory> {
    let stored: StoredBlocks = { deviceId, blocks: [], names: [], savedAt: null };
    try {
      const loaded = await this.#deps.datastore.load(deviceId);
      stored = loaded.store;
    } catch (error) {
      // The synchronization step has said so already (status.synchronization.datastore): names
      // work for this run, and are not kept.
      this.#deps.logger.warn(
        { event: 'blocks-names-unavailable', err: describe(error) },
        'block names cannot be loaded: names are kept in memory only',
      );
    }
    const directory: Directory = { deviceId, byId: new Map(), byName: new Map(), blocks: stored.blocks };
    for (const { id, name } of stored.names ?? []) {
      if (isSystemBlockId(id) || blockNameProblem(name) !== undefined || directory.byName.has(name)) continue;
      directory.byId.set(id, name);
      directory.byName.set(name, id);
    }
    return directory;
  }

  /** A block id from a reference: digits are an id, anything else a name. */
  #resolve(directory: Directory, ref: string | number): number {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) {
      const id = Number(ref);
      if (!isBlockId(id)) throw new BlockNameNotFoundError(String(ref));
      return id;
    }
    for (const [id, name] of SYSTEM_BLOCK_NAMES) if (name === ref) return id;
    const id = directory.byName.get(ref);
    if (id === undefined) throw new BlockNameNotFoundError(ref);
    return id;
  }

  #checkName(directory: Directory, name: string, self: number | undefined): void {
    const problem = blockNameProblem(name);
    if (problem !== undefined) throw new BlockNameInvalidError(name, problem);
    const holder = directory.byName.get(name);
    if (holder !== undefined && holder !== self) throw new BlockNameTakenError(name, holder);
  }

  #checkRename(directory: Directory, id: number, name: string | undefined): void {
    if (name === undefined) return;
    if (isSystemBlockId(id)) {
      if (name !== SYSTEM_BLOCK_NAMES.get(id)) throw new SystemBlockError(id, 'renamed');
      return;
    }
    this.#checkName(directory, name, id);
  }

  #name(directory: Directory, id: number, name: string): void {
    if (directory.byId.get(id) === name) return;
    const previous = directory.byId.get(id);
    if (previous !== undefined) directory.byName.delete(previous);
    directory.byId.set(id, name);
    directory.byName.set(name, id);
    this.#save(directory);
  }

  #forget(directory: Directory, id: number): void {
    const name = directory.byId.get(id);
    if (name === undefined) return;
    directory.byId.delete(id);
    directory.byName.delete(name);
    this.#save(directory);
  }

  /** After a complete listing: names of blocks that are gone are dropped, unnamed blocks get one. */
  #reconcile(directory: Directory, blocks: readonly Block[]): void {
    const present = new Set(blocks.map((block) => block.id));
    for (const id of [...directory.byId.keys()]) if (!present.has(id)) this.#forget(directory, id);
    for (const block of blocks) {
      if (!isSystemBlockId(block.id) && !directory.byId.has(block.id)) {
        this.#name(directory, block.id, autoName(directory, block.type, block.id));
      }
    }
  }

  #view(directory: Directory, block: Block): BlockView {
    const name = SYSTEM_BLOCK_NAMES.get(block.id) ?? directory.byId.get(block.id) ?? null;
    return { id: block.id, name, type: block.type, data: block.data };
  }

  /**
   * Writes the names, one write at a time and at most one per
   * SAVE_INTERVAL_MS; changes made meanwhile go in the next write, so a
   * restore of 2,000 blocks writes the file a few times, not 2,000.
   */
  #save(directory: Directory): void {
    this.#dirty = true;
    this.#saving ??= (async () => {
      while (this.#dirty) {
        const wait = this.#lastSave + SAVE_INTERVAL_MS - performance.now();
        if (wait > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait);
            // flush() cuts the wait short: whoever flushes wants the names on disk now.
            this.#hurry = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.#hurry = undefined;
        }
        this.#lastSave = performance.now();
        this.#dirty = false;
        const names: BlockName[] = [...directory.byId].map(([id, name]) => ({ id, name }));
        try {
          await this.#deps.datastore.save({
            deviceId: directory.deviceId,
            blocks: directory.blocks,
            names,
            savedAt: null,
          });
          this.#lastSaveError = undefined;
        } catch (error) {
          const code = TetherError.is(error) ? error.code : 'TETHER_INTERNAL';
          if (code !== this.#lastSaveError) {
            this.#deps.logger.error(
              { event: 'blocks-names-save-failed', code, err: describe(error) },
              'block names could not be written: they are kept in memory only until a write succeeds',
            );
          }
          this.#lastSaveError = code;
        }
      }
    })().finally(() => (this.#saving = undefined));
  }

  // ------------------------------------------------------------ requests

  async #request<O extends Opcode>(opcode: O, payload: RequestPayload<O>): Promise<ResponsePayload<O>> {
    const { generation } = this.#device();
    try {
      return await this.#deps.commander.request(opcode, payload);
    } catch (error) {
      if (isControllerCode(error, 'INSUFFICIENT_STORAGE')) {
        this.#deps.kernel.reportComponent(generation, {
          kind: 'storageError',
          code: 'INSUFFICIENT_STORAGE',
          opcode,
        });
      }
      throw error;
    }
  }

  #report(report: ComponentReport): void {
    const { phase } = this.#deps.kernel.state;
    this.#deps.kernel.reportComponent(phase.generation, report);
  }
}

function isControllerCode(error: unknown, controllerCode: string): boolean {
  return (
    TetherError.is(error, 'TETHER_CONTROLLER_ERROR') && error.detail['controllerCode'] === controllerCode
  );
}

/** `<type>-<id>`, or `block-<id>` for a type that cannot be part of a name, made unique with `-2`, `-3`, .... */
function autoName(directory: Directory, type: string, id: number): string {
  const base = blockNameProblem(`${type}-${id}`) === undefined ? `${type}-${id}` : `block-${id}`;
  let name = base;
  for (let n = 2; directory.byName.has(name) && directory.byName.get(name) !== id; n++) name = `${base}-${n}`;
  return name;
}

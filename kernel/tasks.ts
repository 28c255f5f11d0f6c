/**
 * Tasks and blocks, assembled for the service: the blocks API over the
 * commander and the datastore, the executor on the tree's task pool, the controller
 * executor, the tracker with its journal in the state directory, and the
 * backups directory the HTTP API lists, serves and fills. Operator actions
 * on tasks (task-actions.ts) go through here, whichever surface asks.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SUPPORTED_PROTO_VERSIONS } from '../actors/synchronization/compat.js';
import { FileDatastore } from '../actors/synchronization/datastore.js';
import type { TetherConfig } from '../config/index.js';
import type { CommanderApi } from '../contracts/actors.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { ActorSystem, Logger } from '../runtime/index.js';
import {
  BackupNotFoundError,
  CommandTracker,
  FileTaskJournal,
  PoolExecutor,
  backupPath,
  backupNameProblem,
  serviceTaskKinds,
} from '../tasks/index.js';
import type { ControllerPort, TaskPool, WriteResult } from '../tasks/index.js';
import { Blocks } from './blocks.js';
import { TASK_POOL_ID } from './tree.js';
import type { Kernel } from './kernel.js';

/** Room for the commander's own timeout to fire first, so a slow controller fails with its opcode. */
const CALL_MARGIN_MS = 2000;
/** How long stopping waits for running tasks to reach a safe point. */
export const TASKS_CLOSE_BOUND_MS = 2000;

export interface BackupFile {
  name: string;
  bytes: number;
  /** ISO 8601. */
  modifiedAt: string;
}

/** The backups directory as the HTTP API sees it. */
export interface BackupFiles {
  list(): Promise<BackupFile[]>;
  /** A backup's bytes (read on the pool, bounded). */
  fetch(name: string): Promise<Uint8Array>;
  /** Stores an uploaded backup (on the pool: it must be UTF-8 JSON; written atomically). */
  store(name: string, bytes: Uint8Array): Promise<WriteResult>;
}

export interface ServiceTasks {
  readonly tracker: CommandTracker;
  readonly blocks: Blocks;
  readonly backups: BackupFiles;
  /** The pool executor: CPU work, tracked (backup.validate) or not (the HTTP API's file moves). */
  readonly pool: PoolExecutor;
  /** Aborts what runs (bounded) and takes no more pool work (the tree stops the pool itself). */
  close(): Promise<void>;
}

export interface TasksOptions {
  config: TetherConfig;
  kernel: Kernel;
  system: ActorSystem;
  logger: Logger;
  /** A pool other than the tree's task pool (tests may hand in one with jobs of their own). */
  pool?: TaskPool;
}

/** The commander as the blocks API and the tasks call it: a ref call with room for the command's own timeout. */
export function commanderPort(system: ActorSystem, config: TetherConfig): ControllerPort {
  const ref = system.ref<CommanderApi>(ACTOR_IDS.commander);
  return {
    request: (opcode, payload, options) =>
      ref.callWith(
        { timeoutMs: (options?.timeoutMs ?? config.commander.timeoutMs) + CALL_MARGIN_MS },
        'request',
        opcode,
        payload,
        options,
      ) as never,
  };
}

export async function startTasks(options: TasksOptions): Promise<ServiceTasks> {
  const { config, kernel, system, logger } = options;
  const settings = config.tasks;
  const commander = commanderPort(system, config);
  const blocks = new Blocks({ commander, kernel, datastore: new FileDatastore(config.stateDir), logger });
  // The task pool is a child of the service's tree (tree.ts): its ref follows its restarts.
  const pool = new PoolExecutor(options.pool ?? system.pool(TASK_POOL_ID));
  const backupsDir = join(config.stateDir, 'backups');
  const { kinds } = serviceTaskKinds({
    kernel: {
      get state() {
        return kernel.state;
      },
      get component() {
        return kernel.component;
      },
      onPhaseChange: (listener) => kernel.onPhaseChange(listener),
      onComponentChange: (listener) => kernel.onComponentChange(listener),
      disconnect: (generation, reason) => kernel.disconnect(generation, reason),
    },
    commander,
    blocks,
    pool,
    poolDown: () => pool.down(),
    backupsDir,
    protoVersions: [...SUPPORTED_PROTO_VERSIONS],
    settings,
  });
  const journal = new FileTaskJournal(config.stateDir, { logger });
  const tracker = new CommandTracker({
    kinds,
    maxQueued: settings.maxQueued,
    retainMs: settings.retainMs,
    retainCount: settings.retainCount,
    journal,
  });
  const recovered = await tracker.recover();
  for (const task of recovered) {
    logger.warn(
      { event: 'task-recovered', id: task.id, kind: task.kind },
      `task ${task.id} (${task.kind}) was unfinished when the service last stopped: FAILED (service restarted)`,
    );
  }
  tracker.subscribe(({ change, task }) => {
    if (change !== 'status') return;
    const level = task.status === 'FAILED' ? 'warn' : 'info';
    logger[level](
      {
        event: 'task',
        id: task.id,
        kind: task.kind,
        status: task.status,
        ...(task.problem === null ? {} : { code: task.problem.code }),
      },
      `task ${task.kind} ${task.id} ${task.status}${task.problem === null ? '' : `: ${task.problem.message}`}`,
    );
  });

  const untracked = { signal: new AbortController().signal, callback: { started() {}, progress() {} } };
  const backups: BackupFiles = {
    async list() {
      let names: string[];
      try {
        names = await readdir(backupsDir);
      } catch {
        return [];
      }
      const files: BackupFile[] = [];
      for (const name of names.sort()) {
        if (backupNameProblem(name) !== undefined) continue;
        const stats = await lstat(join(backupsDir, name)).catch(() => undefined);
        if (stats?.isFile() !== true) continue;
        files.push({ name, bytes: stats.size, modifiedAt: stats.mtime.toISOString() });
      }
      return files;
    },
    async fetch(name) {
      const path = backupPath({ backupsDir }, name);
      const bytes = await pool.execute(
        { kind: 'backup.fetch', args: { path, maxBytes: settings.backup.maxBytes } },
        untracked,
      );
      if (!(bytes instanceof Uint8Array)) throw new BackupNotFoundError(name);
      return bytes;
    },
    async store(name, bytes) {
      const path = backupPath({ backupsDir }, name);
      // Moved to the pool, not copied: a buffer of its own is handed over as it is. Anything else is
      // copied first (a Buffer's slice() is a view, and Node's Buffer pool cannot be transferred:
      // Node 24 refuses it with "Cannot transfer object of unsupported type").
      const own =
        bytes.byteOffset === 0 &&
        bytes.byteLength === bytes.buffer.byteLength &&
        bytes.buffer instanceof ArrayBuffer &&
        !Buffer.isBuffer(bytes)
          ? bytes
          : new Uint8Array(bytes);
      return (await pool.execute(
        { kind: 'backup.store', args: { path, bytes: own }, transfer: [own.buffer as ArrayBuffer] },
        untracked,
      )) as WriteResult;
    },
  };

  let closing: Promise<void> | undefined;
  return {
    tracker,
    blocks,
    backups,
    pool,
    close() {
      closing ??= (async () => {
        await tracker.close(TASKS_CLOSE_BOUND_MS);
        await Promise.all([pool.close(), journal.flush(), blocks.flush()]);
      })();
      return closing;
    },
  };
}

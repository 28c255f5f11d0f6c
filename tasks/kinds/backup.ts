/**
 * Backup save, load and validate. The controller work (reading and creating
 * blocks) runs in the main thread through the commander, one block per
 * request; everything that costs CPU in proportion to the file (serializing,
 * parsing, checking, hashing) runs on the pool (pool/backup-jobs.ts), so a
 * restore of 2,000 blocks only ever spends microseconds of the main thread
 * at a time.
 *
 * - save: the blocks and their names (blocks API `list`: one BLOCK_LIST when
 *   the answer fits a line, else the known blocks one by one, with progress
 *   per block), then the file written on the pool. Result: name, path, block
 *   count, SHA-256. A lost link fails it (nothing is written).
 * - load: the file checked on the pool (format, protocol version, device id:
 *   another device's backup refuses unless `force`), then BLOCK_CLEAR and one
 *   BLOCK_CREATE per block with its id and name. A block the controller
 *   refuses is an error in the result, not the end of the load; an abort
 *   stops between blocks; a lost link or a commander restart fails it. Either
 *   way the result says what was written.
 * - validate: the check alone, on the pool (a tracked CPU task).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { BlockView } from '../../contracts/blocks.js';
import { TetherError, describe } from '../../errors/index.js';
import { TaskAbortedError, withPartial } from '../errors.js';
import type { JobContext } from '../local-executor.js';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupNameInvalidError,
  backupNameProblem,
  blockLine,
} from '../backup/format.js';
import type { BackupBlock, BackupHeader, BackupSummary } from '../backup/format.js';
import type { ValidateArgs, ValidateResult, WriteArgs, WriteResult } from '../pool/backup-jobs.js';
import type { TaskDeps } from './deps.js';
import { synchronizedPhase } from './deps.js';

const backupName = z.string().refine((name) => backupNameProblem(name) === undefined, {
  error: (issue) => backupNameProblem(String(issue.input)) ?? 'not a backup name',
});

export const SaveArgs = z.strictObject({ name: backupName.optional() });
export const LoadArgs = z.strictObject({ name: backupName, force: z.boolean().default(false) });
export const ValidateArgsSchema = z.strictObject({ name: backupName, force: z.boolean().default(false) });

/** Per-block errors kept in a load's result (the count says how many there were in all). */
const MAX_BLOCK_ERRORS = 100;

/** The path of a backup in the backups directory; refuses a name that is not a plain file name. */
export function backupPath(deps: Pick<TaskDeps, 'backupsDir'>, name: string): string {
  const problem = backupNameProblem(name);
  if (problem !== undefined) throw new BackupNameInvalidError(name, problem);
  return join(deps.backupsDir, name);
}

/** Runs a pool job for this task, its progress mapped into `from..to` of the task's. */
async function onPool<T>(
  deps: TaskDeps,
  context: JobContext,
  job: { kind: string; args: unknown },
  from: number,
  to: number,
): Promise<T> {
  const value = await deps.pool.execute(job, {
    signal: context.signal,
    callback: {
      started: () => {},
      progress: (percent, message) => context.progress(from + ((to - from) * percent) / 100, message),
    },
  });
  return value as T;
}

// ------------------------------------------------------------------- save

export interface SaveResult extends WriteResult {
  name: string;
  blockCount: number;
  deviceId: string;
  firmwareVersion: string;
}

export async function saveBackup(
  deps: TaskDeps,
  args: z.output<typeof SaveArgs>,
  context: JobContext,
): Promise<SaveResult> {
  const phase = synchronizedPhase(deps.kernel, 'backup.save');
  const { handshake } = phase.ack;
  const createdAt = new Date();
  const name = args.name ?? `backup-${handshake.deviceId.toLowerCase()}-${stamp(createdAt)}.json`;
  const path = backupPath(deps, name);
  context.progress(1, 'listing blocks');
  let views: BlockView[];
  try {
    views = await deps.blocks.list({
      signal: context.signal,
      onBlock: (done, total) => context.progress(1 + (79 * done) / total, `read ${done} of ${total} blocks`),
    });
  } catch (error) {
    throw withPartial(error, { name, written: false });
  }
  const lines: string[] = [];
  for (const view of views) {
    if (view.id <= 99) continue;
    lines.push(
      blockLine({ id: view.id, name: view.name, type: view.type, data: view.data } satisfies BackupBlock),
    );
  }
  if (context.signal.aborted) throw new TaskAbortedError('aborted before writing', { name, written: false });
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt: createdAt.toISOString(),
    device: {
      deviceId: handshake.deviceId.toLowerCase(),
      firmwareVersion: handshake.firmwareVersion,
      protoVersion: handshake.protoVersion,
      firmwareDate: handshake.firmwareDate,
      protoDate: handshake.protoDate,
      systemVersion: handshake.systemVersion,
      platform: handshake.platform,
    },
  };
  context.progress(80, `writing ${lines.length} blocks`);
  const written = await onPool<WriteResult>(
    deps,
    context,
    { kind: 'backup.write', args: { path, header, lines } satisfies WriteArgs },
    80,
    100,
  );
  return {
    ...written,
    name,
    blockCount: lines.length,
    deviceId: header.device.deviceId,
    firmwareVersion: header.device.firmwareVersion,
  };
}

/** `20260324T120000Z`: sortable, and a plain file name. */
function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

// --------------------------------------------------------------- validate

export async function validateBackup(
  deps: TaskDeps,
  args: z.output<typeof ValidateArgsSchema>,
  context: JobContext,
  withBlocks = false,
): Promise<ValidateResult> {
  const { phase } = deps.kernel.state;
  const deviceId =
    phase.name === 'Acknowledged' || phase.name === 'Synchronized' ? phase.ack.handshake.deviceId : undefined;
  const validateArgs: ValidateArgs = {
    path: backupPath(deps, args.name),
    maxBytes: deps.settings.backup.maxBytes,
    expect: {
      ...(deviceId === undefined ? {} : { deviceId }),
      protoVersions: deps.protoVersions,
      force: args.force,
    },
    withBlocks,
  };
  return onPool<ValidateResult>(
    deps,
    context,
    { kind: 'backup.validate', args: validateArgs },
    0,
    withBlocks ? 10 : 100,
  );
}

// ------------------------------------------------------------------- load

export interface BlockError {
  id: number;
  name: string | null;
  /** The controller's code (BLOCK_NOT_FOUND, INSUFFICIENT_STORAGE, ...) or the service's. */
  code: string;
  message: string;
}

export interface LoadResult {
  name: string;
  sha256: string;
  /** Blocks in the file (system blocks and repeats left out). */
  blocks: number;
  /** Blocks created, with their ids. */
  written: number;
  writtenIds: number[];
  errorCount: number;
  errors: BlockError[];
  warnings: string[];
  /** Set when the load stopped early (aborted, or the link went): the block it stopped before. */
  stoppedAt?: number;
}

export async function loadBackup(
  deps: TaskDeps,
  args: z.output<typeof LoadArgs>,
  context: JobContext,
): Promise<LoadResult> {
  synchronizedPhase(deps.kernel, 'backup.load');
  const validated = await validateBackup(deps, args, context, true);
  const { summary, lines, offsets } = validated as Required<ValidateResult>;
  const total = summary.blockCount;
  const outcome: LoadResult = {
    name: args.name,
    sha256: summary.sha256,
    blocks: total,
    written: 0,
    writtenIds: [],
    errorCount: 0,
    errors: [],
    warnings: summary.warnings,
  };
  const fail = (block: BackupBlock, error: unknown, note = ''): void => {
    outcome.errorCount += 1;
    if (outcome.errors.length >= MAX_BLOCK_ERRORS) return;
    const controllerCode = TetherError.is(error) ? error.detail['controllerCode'] : undefined;
    outcome.errors.push({
      id: block.id,
      name: block.name,
      code:
        typeof controllerCode === 'string'
          ? controllerCode
          : TetherError.is(error)
            ? error.code
            : 'TETHER_INTERNAL',
      message: `${describe(error)}${note}`,
    });
  };
  context.progress(10, 'clearing the controller');
  try {
    await deps.blocks.deleteAll();
  } catch (error) {
    throw withPartial(error, outcome);
  }
  const decoder = new TextDecoder();
  for (let index = 0; index < total; index++) {
    if (context.signal.aborted) {
      outcome.stoppedAt = index;
      await deps.blocks.flush();
      throw new TaskAbortedError(`aborted after ${outcome.written} of ${total} blocks`, outcome);
    }
    // One line at a time: a 20 MB file never becomes one big object in this thread.
    const block = JSON.parse(
      decoder.decode(lines.subarray(offsets[index], offsets[index + 1])),
    ) as BackupBlock;
    try {
      await createBlock(deps, block, fail);
      outcome.written += 1;
      outcome.writtenIds.push(block.id);
    } catch (error) {
      if (!perBlock(error)) {
        outcome.stoppedAt = index;
        await deps.blocks.flush();
        throw withPartial(error, outcome);
      }
      fail(block, error);
    }
    context.progress(10 + (88 * (index + 1)) / total, `block ${index + 1} of ${total}`);
  }
  await deps.blocks.flush();
  context.progress(100, `${outcome.written} of ${total} blocks written, ${outcome.errorCount} errors`);
  return outcome;
}

/** Creates a block with its name; a name the controller's other blocks hold already costs the name, not the block. */
async function createBlock(
  deps: TaskDeps,
  block: BackupBlock,
  fail: (block: BackupBlock, error: unknown, note: string) => void,
): Promise<void> {
  const input = { id: block.id, type: block.type, data: block.data };
  if (block.name === null) {
    await deps.blocks.create(input);
    return;
  }
  try {
    await deps.blocks.create({ ...input, name: block.name });
  } catch (error) {
    if (
      !TetherError.is(error, 'TETHER_BLOCK_NAME_TAKEN') &&
      !TetherError.is(error, 'TETHER_BLOCK_NAME_INVALID')
    ) {
      throw error;
    }
    await deps.blocks.create(input);
    fail(block, error, ' (created under a name of its own)');
  }
}

/** Errors of one block (the controller refused it, it does not fit a frame): the load goes on. */
function perBlock(error: unknown): boolean {
  return (
    TetherError.is(error, 'TETHER_CONTROLLER_ERROR') ||
    TetherError.is(error, 'TETHER_ENCODE_FAILED') ||
    TetherError.is(error, 'TETHER_BAD_PAYLOAD') ||
    TetherError.is(error, 'TETHER_BAD_RESPONSE')
  );
}

export type { BackupSummary };

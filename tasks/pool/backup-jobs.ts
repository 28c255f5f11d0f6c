/**
 * The backup jobs that run on the task pool: reading and checking a backup
 * file, writing one, and moving one in or out of the service's backups
 * directory for the HTTP API. Each reads and writes through
 * system/state-file.ts (regular files only, bounded in size and time,
 * written atomically).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { readStateText, writeFileAtomic } from '../../system/index.js';
import {
  BackupInvalidError,
  BackupNotFoundError,
  blockLine,
  checkBackup,
  serializeBackup,
} from '../backup/format.js';
import type { BackupExpectation, BackupHeader, BackupSummary } from '../backup/format.js';
import { moved } from './worker.js';
import type { PoolJob, PoolJobContext } from './worker.js';

/** A file of tens of megabytes on a slow disk: far more than the state-file default of 2 s. */
const FILE_TIMEOUT_MS = 60_000;

export interface ValidateArgs {
  path: string;
  maxBytes: number;
  expect: BackupExpectation;
  /** Also hand back the blocks, one JSON line each (moved, not copied). */
  withBlocks: boolean;
}

export interface ValidateResult {
  summary: BackupSummary;
  /** With `withBlocks`: the blocks as UTF-8 JSON lines, `offsets[i]..offsets[i+1]` the i-th. */
  lines?: Uint8Array;
  offsets?: Uint32Array;
}

export interface WriteArgs {
  path: string;
  header: BackupHeader;
  /** The blocks, each already one JSON line (format.ts `blockLine`). */
  lines: string[];
}

export interface WriteResult {
  path: string;
  bytes: number;
  sha256: string;
}

async function readBackup(path: string, maxBytes: number): Promise<string> {
  const text = await readStateText(path, { maxBytes, timeoutMs: FILE_TIMEOUT_MS });
  if (text === undefined) throw new BackupNotFoundError(basename(path));
  return text;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function validate(raw: unknown, { progress }: PoolJobContext): Promise<unknown> {
  const args = raw as ValidateArgs;
  const text = await readBackup(args.path, args.maxBytes);
  await progress(20, 'read');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BackupInvalidError(`not JSON (${(error as Error).message})`);
  }
  await progress(40, 'parsed');
  let reported = 40;
  const pending: Array<Promise<void>> = [];
  const { header, blocks, warnings } = checkBackup(value, args.expect, (done, total) => {
    const percent = 40 + Math.floor((done / total) * 50);
    // A progress call is a round trip; one per tenth is plenty.
    if (percent >= reported + 5) {
      reported = percent;
      pending.push(progress(percent, `checked ${done} of ${total} blocks`));
    }
  });
  await Promise.all(pending);
  const summary: BackupSummary = {
    formatVersion: header.formatVersion,
    createdAt: header.createdAt,
    device: header.device,
    blockCount: blocks.length,
    sha256: sha256(text),
    bytes: Buffer.byteLength(text),
    warnings,
  };
  await progress(95, 'validated');
  if (!args.withBlocks) return { summary } satisfies ValidateResult;
  const encoded = blocks.map((block) => Buffer.from(blockLine(block)));
  const lines = new Uint8Array(encoded.reduce((sum, line) => sum + line.length, 0));
  const offsets = new Uint32Array(encoded.length + 1);
  let at = 0;
  for (const [index, line] of encoded.entries()) {
    offsets[index] = at;
    lines.set(line, at);
    at += line.length;
  }
  offsets[encoded.length] = at;
  return moved({ summary, lines, offsets } satisfies ValidateResult, [
    lines.buffer as ArrayBuffer,
    offsets.buffer as ArrayBuffer,
  ]);
}

async function write(raw: unknown, { progress }: PoolJobContext): Promise<unknown> {
  const args = raw as WriteArgs;
  const text = serializeBackup(args.header, args.lines);
  await progress(50, 'serialized');
  await writeFileAtomic(args.path, text, { timeoutMs: FILE_TIMEOUT_MS });
  return { path: args.path, bytes: Buffer.byteLength(text), sha256: sha256(text) } satisfies WriteResult;
}

/** A backup file's bytes, for the HTTP API to send (moved to the main thread). */
async function fetchBackup(raw: unknown): Promise<unknown> {
  const { path, maxBytes } = raw as { path: string; maxBytes: number };
  const bytes = new Uint8Array(Buffer.from(await readBackup(path, maxBytes)));
  return moved(bytes, [bytes.buffer as ArrayBuffer]);
}

/** An uploaded backup into the backups directory, atomically; it must be JSON (a load checks the rest). */
async function storeBackup(raw: unknown): Promise<unknown> {
  const { path, bytes } = raw as { path: string; bytes: Uint8Array };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    JSON.parse(text);
  } catch (error) {
    throw new BackupInvalidError(`not UTF-8 JSON (${(error as Error).message})`);
  }
  await writeFileAtomic(path, text, { timeoutMs: FILE_TIMEOUT_MS });
  return { path, bytes: bytes.byteLength, sha256: sha256(text) } satisfies WriteResult;
}

export const BACKUP_JOBS: Readonly<Record<string, PoolJob>> = {
  'backup.validate': validate,
  'backup.write': write,
  'backup.fetch': fetchBackup,
  'backup.store': storeBackup,
};

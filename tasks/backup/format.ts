/**
 * The backup file: a controller's blocks and their names as one versioned
 * JSON document, written with one block per line so that it is both valid
 * JSON and readable (and diffable) by a person:
 *
 *     {"format":"tether-backup","formatVersion":1,"createdAt":"2026-...",
 *      "device":{"deviceId":"…","firmwareVersion":"…","protoVersion":"…",…},
 *      "blockCount":2,
 *      "blocks":[
 *     {"id":100,"name":"fridge","type":"TempSensor","data":{…}},
 *     {"id":101,"name":"heater","type":"Pwm","data":{…}}
 *     ]}
 *
 * System blocks (ids 1..99) are not saved: they belong to the firmware and
 * cannot be created. `checkBackup` is what a load trusts, and it trusts
 * nothing in the file; it runs on the task pool (a 20 MB file takes a
 * fraction of a second to parse, which the main thread must not spend).
 */
import { TetherError, quote, registerErrorClass } from '../../errors/index.js';
import type { JsonObject } from '../../protocol/index.js';
import { MAX_SYSTEM_BLOCK_ID, isBlockId, isJsonObject } from '../../protocol/index.js';

export const BACKUP_FORMAT = 'tether-backup';
export const BACKUP_FORMAT_VERSION = 1;
/** The largest backup a load reads (a 200-block controller's is about 100 KiB). */
export const DEFAULT_MAX_BACKUP_BYTES = 32 * 1024 * 1024;
/** At most this many warnings are kept in a validation's result. */
const MAX_WARNINGS = 50;

export interface BackupDevice {
  deviceId: string;
  firmwareVersion: string;
  protoVersion: string;
  firmwareDate: string;
  protoDate: string;
  systemVersion: string;
  platform: string;
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  formatVersion: typeof BACKUP_FORMAT_VERSION;
  /** ISO 8601. */
  createdAt: string;
  device: BackupDevice;
}

export interface BackupBlock {
  id: number;
  name: string | null;
  type: string;
  data: JsonObject;
}

/** What a load expects of a backup. */
export interface BackupExpectation {
  /** The connected controller's id: a backup of another refuses unless `force`. */
  deviceId?: string;
  /** proto_versions this build supports (lower case); empty skips the check. */
  protoVersions: readonly string[];
  force: boolean;
}

export interface BackupSummary {
  formatVersion: number;
  createdAt: string;
  device: BackupDevice;
  blockCount: number;
  /** Of the file as read. */
  sha256: string;
  bytes: number;
  /** Things that do not stop a load (a system block skipped, a device id overridden by force, ...). */
  warnings: string[];
}

/** The file's text: the header, then one block per line. */
export function serializeBackup(header: BackupHeader, blockLines: readonly string[]): string {
  const head = JSON.stringify({ ...header, blockCount: blockLines.length });
  return `${head.slice(0, -1)},"blocks":[\n${blockLines.join(',\n')}\n]}\n`;
}

/** One block as its line in the file. */
export function blockLine(block: BackupBlock): string {
  return JSON.stringify({ id: block.id, name: block.name, type: block.type, data: block.data });
}

/**
 * The backup in `value` (parsed JSON) checked against `expect`: its header,
 * and its blocks (system blocks and repeated ids left out, with a warning).
 * Throws BackupInvalidError, BackupIncompatibleError or
 * BackupWrongDeviceError. `onBlock` is called after each block is checked.
 */
export function checkBackup(
  value: unknown,
  expect: BackupExpectation,
  onBlock: (done: number, total: number) => void = () => {},
): { header: BackupHeader; blocks: BackupBlock[]; warnings: string[] } {
  if (!isJsonObject(value)) throw new BackupInvalidError('the file is not a JSON object');
  if (value.format !== BACKUP_FORMAT) {
    throw new BackupInvalidError(`"format" is not "${BACKUP_FORMAT}"`);
  }
  if (value.formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new BackupInvalidError(
      `format version ${quote(JSON.stringify(value.formatVersion) ?? 'none')} is not one this build reads (${BACKUP_FORMAT_VERSION})`,
    );
  }
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) {
    throw new BackupInvalidError('"createdAt" is not a time');
  }
  const device = checkDevice(value.device);
  const warnings: string[] = [];
  const warn = (text: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(text);
  };
  const proto = device.protoVersion.toLowerCase();
  if (expect.protoVersions.length > 0 && !expect.protoVersions.includes(proto)) {
    throw new BackupIncompatibleError(device.protoVersion, expect.protoVersions);
  }
  if (expect.deviceId !== undefined && expect.deviceId.toLowerCase() !== device.deviceId.toLowerCase()) {
    if (!expect.force) throw new BackupWrongDeviceError(device.deviceId, expect.deviceId);
    warn(`the backup is of device ${device.deviceId}; loaded into ${expect.deviceId.toLowerCase()} by force`);
  }
  if (!Array.isArray(value.blocks)) throw new BackupInvalidError('"blocks" is not an array');
  if (value.blockCount !== undefined && value.blockCount !== value.blocks.length) {
    throw new BackupInvalidError(
      `"blockCount" says ${quote(String(value.blockCount))} but the file holds ${value.blocks.length} (cut short?)`,
    );
  }
  const blocks: BackupBlock[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  const total = value.blocks.length;
  for (const [index, raw] of value.blocks.entries()) {
    const block = checkBlock(raw, index);
    if (block.id <= MAX_SYSTEM_BLOCK_ID) {
      warn(`blocks[${index}]: system block ${block.id} left out (system blocks cannot be created)`);
    } else if (ids.has(block.id)) {
      warn(`blocks[${index}]: id ${block.id} again; left out`);
    } else {
      if (block.name !== null && names.has(block.name)) {
        warn(`blocks[${index}]: name "${quote(block.name)}" again; the block gets a name of its own`);
        block.name = null;
      }
      ids.add(block.id);
      if (block.name !== null) names.add(block.name);
      blocks.push(block);
    }
    onBlock(index + 1, total);
  }
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt: value.createdAt,
    device,
  };
  return { header, blocks, warnings };
}

const DEVICE_FIELDS = [
  'deviceId',
  'firmwareVersion',
  'protoVersion',
  'firmwareDate',
  'protoDate',
  'systemVersion',
  'platform',
] as const;

function checkDevice(value: unknown): BackupDevice {
  if (!isJsonObject(value)) throw new BackupInvalidError('"device" is not an object');
  const device: Partial<BackupDevice> = {};
  for (const field of DEVICE_FIELDS) {
    const text = value[field];
    if (typeof text !== 'string' || text.length > 64) {
      throw new BackupInvalidError(`"device.${field}" is not a short string`);
    }
    device[field] = text;
  }
  if (!/^[0-9a-f]{24}$/i.test(device.deviceId!)) {
    throw new BackupInvalidError('"device.deviceId" is not 24 hex digits');
  }
  return device as BackupDevice;
}

function checkBlock(value: unknown, index: number): BackupBlock {
  const where = `blocks[${index}]`;
  if (!isJsonObject(value)) throw new BackupInvalidError(`${where} is not an object`);
  const { id, name, type, data } = value;
  if (!isBlockId(id)) throw new BackupInvalidError(`${where}.id is not an integer 1..65535`);
  if (name !== null && (typeof name !== 'string' || name === '')) {
    throw new BackupInvalidError(`${where}.name is not a string or null`);
  }
  if (typeof type !== 'string' || type === '') throw new BackupInvalidError(`${where}.type is not a string`);
  if (!isJsonObject(data)) throw new BackupInvalidError(`${where}.data is not an object`);
  return { id, name: name as string | null, type, data };
}

// ------------------------------------------------------------------ names

/** A backup's name on the service: a plain file name in the backups directory, ending in .json. */
export function backupNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    return 'letters, digits, ".", "_" and "-" only, at most 128, not starting with "." or "-"';
  }
  if (!name.endsWith('.json')) return 'it ends in .json';
  return undefined;
}

// ----------------------------------------------------------------- errors

export class BackupInvalidError extends TetherError {
  declare readonly code: 'TETHER_BACKUP_INVALID';
  constructor(why: string) {
    super('TETHER_BACKUP_INVALID', `not a valid backup: ${why}`, { detail: { why } });
  }
}

export class BackupIncompatibleError extends TetherError {
  declare readonly code: 'TETHER_BACKUP_INCOMPATIBLE';
  constructor(protoVersion: string, supported: readonly string[]) {
    super(
      'TETHER_BACKUP_INCOMPATIBLE',
      `the backup was made with protocol ${quote(protoVersion)}, which this build does not support (${supported.join(', ')})`,
      { detail: { protoVersion: quote(protoVersion), supported: [...supported] } },
    );
  }
}

export class BackupWrongDeviceError extends TetherError {
  declare readonly code: 'TETHER_BACKUP_WRONG_DEVICE';
  constructor(backupDevice: string, controller: string) {
    super(
      'TETHER_BACKUP_WRONG_DEVICE',
      `the backup is of device ${backupDevice}, the controller is ${controller.toLowerCase()} (load with force to override)`,
      { detail: { backupDevice, controller: controller.toLowerCase() } },
    );
  }
}

export class BackupNotFoundError extends TetherError {
  declare readonly code: 'TETHER_BACKUP_NOT_FOUND';
  constructor(name: string) {
    super('TETHER_BACKUP_NOT_FOUND', `no backup named "${quote(name)}"`, { detail: { name: quote(name) } });
  }
}

export class BackupNameInvalidError extends TetherError {
  declare readonly code: 'TETHER_BACKUP_NAME_INVALID';
  constructor(name: string, why: string) {
    super('TETHER_BACKUP_NAME_INVALID', `"${quote(name)}" cannot name a backup: ${why}`, {
      detail: { name: quote(name), why },
    });
  }
}

registerErrorClass('TETHER_BACKUP_INVALID', BackupInvalidError);
registerErrorClass('TETHER_BACKUP_INCOMPATIBLE', BackupIncompatibleError);
registerErrorClass('TETHER_BACKUP_WRONG_DEVICE', BackupWrongDeviceError);
registerErrorClass('TETHER_BACKUP_NOT_FOUND', BackupNotFoundError);
registerErrorClass('TETHER_BACKUP_NAME_INVALID', BackupNameInvalidError);

/**
 * Field checks: the frame shapes the decoder accepts, and each opcode's
 * request and response payloads. Every check names what is wrong, so a bad
 * frame can be logged with its reason and a bad request answered with
 * INVALID_PAYLOAD.
 */
import { PayloadError } from './errors.js';
import {
  ERROR_CODES,
  MAX_BLOCK_ID,
  MAX_MSG_ID,
  MIN_BLOCK_ID,
  MIN_MSG_ID,
  OPCODES,
  type Block,
  type BlockRef,
  type ErrorCode,
  type JsonObject,
  type JsonValue,
  type NewBlock,
  type Opcode,
  type RequestFrame,
  type RequestPayload,
  type ResponseFrame,
  type ResponsePayload,
  type VersionInfo,
} from './model.js';

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

const OPCODE_SET: ReadonlySet<string> = new Set(OPCODES);
const ERROR_CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isOpcode(value: unknown): value is Opcode {
  return typeof value === 'string' && OPCODE_SET.has(value);
}
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ERROR_CODE_SET.has(value);
}
export function isMsgId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= MIN_MSG_ID && (value as number) <= MAX_MSG_ID;
}
export function isBlockId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= MIN_BLOCK_ID && (value as number) <= MAX_BLOCK_ID;
}
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- frames

/**
 * A response needs an integer msgId in range, an error string, and an object
 * or array payload when present. Unknown error codes are accepted as text: a
 * newer firmware's code should reach its request, not turn into a timeout.
 */
export function checkResponseFrame(value: unknown): ResponseFrame | string {
  if (!isJsonObject(value)) return 'frame is not a JSON object';
  const { msgId, error, payload } = value;
  if (!isMsgId(msgId)) return 'msgId is not an integer 1..65535';
  if (typeof error !== 'string') return 'error is not a string';
  if (payload === undefined) return { msgId, error };
  if (typeof payload !== 'object' || payload === null) return 'payload is not an object or array';
  return { msgId, error, payload };
}

/** A request needs a msgId in range, a string opcode (unknown ones get INVALID_OPCODE) and an object payload. */
export function checkRequestFrame(value: unknown): RequestFrame | string {
  if (!isJsonObject(value)) return 'frame is not a JSON object';
  const { msgId, opcode, payload } = value;
  if (!isMsgId(msgId)) return 'msgId is not an integer 1..65535';
  if (typeof opcode !== 'string') return 'opcode is not a string';
  if (payload === undefined) return { msgId, opcode };
  if (!isJsonObject(payload)) return 'payload is not an object';
  return { msgId, opcode, payload };
}

// -------------------------------------------------------------- payloads

function checkBlockRef(value: unknown): Check<BlockRef> {
  if (!isJsonObject(value)) return { ok: false, reason: 'payload is not an object' };
  if (!isBlockId(value.id)) return { ok: false, reason: 'id is not an integer 1..65535' };
  return { ok: true, value: { id: value.id } };
}

function checkBlock(value: unknown): Check<Block> {
  const ref = checkBlockRef(value);
  if (!ref.ok) return ref;
  const { type, data } = value as JsonObject;
  if (typeof type !== 'string' || type === '') return { ok: false, reason: 'type is not a non-empty string' };
  if (!isJsonObject(data)) return { ok: false, reason: 'data is not an object' };
  return { ok: true, value: { id: ref.value.id, type, data } };
}

function checkNewBlock(value: unknown): Check<NewBlock> {
  if (!isJsonObject(value)) return { ok: false, reason: 'payload is not an object' };
  const { id, type, data } = value;
  if (id !== undefined && !isBlockId(id)) return { ok: false, reason: 'id is not an integer 1..65535' };
  if (typeof type !== 'string' || type === '') return { ok: false, reason: 'type is not a non-empty string' };
  if (!isJsonObject(data)) return { ok: false, reason: 'data is not an object' };
  return { ok: true, value: id === undefined ? { type, data } : { id, type, data } };
}

function checkVersion(value: unknown): Check<VersionInfo> {
  if (!isJsonObject(value)) return { ok: false, reason: 'payload is not an object' };
  const { firmware_version, proto_version, device_id } = value;
  if (
    typeof firmware_version !== 'string' ||
    typeof proto_version !== 'string' ||
    typeof device_id !== 'string'
  ) {
    return { ok: false, reason: 'firmware_version, proto_version and device_id must be strings' };
  }
  return { ok: true, value: { firmware_version, proto_version, device_id } };
}

function checkBlockList(value: unknown): Check<Block[]> {
  if (!Array.isArray(value)) return { ok: false, reason: 'payload is not an array' };
  const blocks: Block[] = [];
  for (const [index, item] of (value as JsonValue[]).entries()) {
    const block = checkBlock(item);
    if (!block.ok) return { ok: false, reason: `block ${index}: ${block.reason}` };
    blocks.push(block.value);
  }
  return { ok: true, value: blocks };
}

/** Opcodes that take no payload accept none or an empty object (some clients always send one). */
function checkNothing(value: unknown): Check<undefined> {
  if (value === undefined || (isJsonObject(value) && Object.keys(value).length === 0)) {
    return { ok: true, value: undefined };
  }
  return { ok: false, reason: 'this opcode takes no payload' };
}

const REQUEST_CHECKS: { [O in Opcode]: (value: unknown) => Check<RequestPayload<O>> } = {
  NONE: checkNothing,
  VERSION: checkNothing,
  BLOCK_READ: checkBlockRef,
  BLOCK_WRITE: checkBlock,
  BLOCK_CREATE: checkNewBlock,
  BLOCK_DELETE: checkBlockRef,
  BLOCK_LIST: checkNothing,
  BLOCK_CLEAR: checkNothing,
  REBOOT: checkNothing,
  FIRMWARE_UPDATE: checkNothing,
};

/** Responses that carry nothing: a payload sent anyway is ignored rather than failing a good answer. */
const ignored = (): Check<undefined> => ({ ok: true, value: undefined });

const RESPONSE_CHECKS: { [O in Opcode]: (value: unknown) => Check<ResponsePayload<O>> } = {
  NONE: ignored,
  VERSION: checkVersion,
  BLOCK_READ: checkBlock,
  BLOCK_WRITE: checkBlock,
  BLOCK_CREATE: checkBlock,
  BLOCK_DELETE: ignored,
  BLOCK_LIST: checkBlockList,
  BLOCK_CLEAR: ignored,
  REBOOT: ignored,
  FIRMWARE_UPDATE: ignored,
};

/** For the controller side: the request payload typed by opcode, or why it is INVALID_PAYLOAD. */
export function checkRequestPayload<O extends Opcode>(opcode: O, payload: unknown): Check<RequestPayload<O>> {
  return REQUEST_CHECKS[opcode](payload);
}

/** For the service side: an OK response's payload typed by the opcode of its request; throws PayloadError. */
export function parseResponsePayload<O extends Opcode>(opcode: O, payload: unknown): ResponsePayload<O> {
  const checked = RESPONSE_CHECKS[opcode](payload);
  if (!checked.ok) throw new PayloadError(opcode, checked.reason);
  return checked.value;
}

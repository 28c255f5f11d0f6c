/**
 * The typed model of the controller protocol (`shared/protocol.md`): opcodes
 * with their request and response payloads, error codes, events, and what the
 * decoder hands out. Types and constants only; validation lives in
 * `payloads.ts`, parsing of annotations in `annotation.ts`.
 */

// ------------------------------------------------------------------ JSON

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

// ------------------------------------------------------------ constants

/** Bounds from the spec (section 1), delimiters and the `\n` excluded. */
export const MAX_LINE_BYTES = 8192;
export const MAX_ANNOTATION_BYTES = 1024;
/**
 * Our bound, not the spec's: the deepest nesting of objects and arrays a
 * frame may have, the frame object itself counting as one. Real blocks nest a
 * handful of levels; a deeper frame is a bad frame (docs/protocol.md, "Bounds").
 * It keeps every value the codec hands out safe to clone between threads,
 * to serialize again and to log, whose cost grows with depth.
 */
export const MAX_JSON_DEPTH = 32;

export const MIN_MSG_ID = 1;
export const MAX_MSG_ID = 65535;
export const MIN_BLOCK_ID = 1;
export const MAX_BLOCK_ID = 65535;
/** Ids 1..99 belong to system blocks: they cannot be created or deleted. */
export const MAX_SYSTEM_BLOCK_ID = 99;
export const SYSINFO_BLOCK_ID = 2;
export const TICKS_BLOCK_ID = 3;
export const TRACE_READ_RESUME = 'TRACE_READ_RESUME';
export const MAX_TRACE_ENTRIES = 10;

export const OPCODES = [
  'NONE',
  'VERSION',
  'BLOCK_READ',
  'BLOCK_WRITE',
  'BLOCK_CREATE',
  'BLOCK_DELETE',
  'BLOCK_LIST',
  'BLOCK_CLEAR',
  'REBOOT',
  'FIRMWARE_UPDATE',
] as const;
export type Opcode = (typeof OPCODES)[number];

export const ERROR_CODES = [
  'OK',
  'UNKNOWN_ERROR',
  'INVALID_OPCODE',
  'INVALID_PAYLOAD',
  'INVALID_BLOCK_ID',
  'INVALID_BLOCK_TYPE',
  'BLOCK_NOT_FOUND',
  'INSUFFICIENT_STORAGE',
  'BUSY',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const PLATFORMS = ['sim', 'p1', 'photon', 'esp32'] as const;

/** reset_reason of the handshake, by its two hex digits (upper case). */
export const RESET_REASONS = {
  '00': 'NONE',
  '0A': 'UNKNOWN',
  '14': 'PIN_RESET',
  '1E': 'POWER_MANAGEMENT',
  '28': 'POWER_DOWN',
  '32': 'POWER_BROWNOUT',
  '3C': 'WATCHDOG',
  '46': 'UPDATE',
  '50': 'UPDATE_ERROR',
  '5A': 'UPDATE_TIMEOUT',
  '64': 'FACTORY_RESET',
  '6E': 'SAFE_MODE',
  '78': 'DFU_MODE',
  '82': 'PANIC',
  '8C': 'USER',
} as const;
export type ResetReasonName = (typeof RESET_REASONS)[keyof typeof RESET_REASONS];

/** reset_data of the handshake, by its two hex digits. */
export const RESET_DATA = {
  '00': 'NOT_SPECIFIED',
  '01': 'WATCHDOG',
  '02': 'CBOX_RESET',
  '03': 'CBOX_FACTORY_RESET',
  '04': 'FIRMWARE_UPDATE_FAILED',
  '05': 'LISTENING_MODE_EXIT',
  '06': 'FIRMWARE_UPDATE_SUCCESS',
  '07': 'OUT_OF_MEMORY',
} as const;
export type ResetDataName = (typeof RESET_DATA)[keyof typeof RESET_DATA];

// ------------------------------------------------------------ payloads

export interface Block {
  id: number;
  type: string;
  data: JsonObject;
}
export interface BlockRef {
  id: number;
}
export interface NewBlock {
  id?: number;
  type: string;
  data: JsonObject;
}
/** The VERSION response: wire names, as the firmware sends them. */
export interface VersionInfo {
  firmware_version: string;
  proto_version: string;
  device_id: string;
}
/** One entry of SysInfo's trace (returned by TRACE_READ_RESUME). */
export interface TraceEntry {
  action: string;
  id: number;
  type: string;
}

/**
 * Each opcode's request payload and OK-response payload; `undefined` where the
 * spec says "none". The commander types `request(opcode, payload)` from this.
 */
export interface OpcodeSpec {
  NONE: { request: undefined; response: undefined };
  VERSION: { request: undefined; response: VersionInfo };
  BLOCK_READ: { request: BlockRef; response: Block };
  BLOCK_WRITE: { request: Block; response: Block };
  BLOCK_CREATE: { request: NewBlock; response: Block };
  BLOCK_DELETE: { request: BlockRef; response: undefined };
  BLOCK_LIST: { request: undefined; response: Block[] };
  BLOCK_CLEAR: { request: undefined; response: undefined };
  REBOOT: { request: undefined; response: undefined };
  FIRMWARE_UPDATE: { request: undefined; response: undefined };
}
export type RequestPayload<O extends Opcode> = OpcodeSpec[O]['request'];
export type ResponsePayload<O extends Opcode> = OpcodeSpec[O]['response'];

/** A typed request: `payload` is present exactly when the opcode takes one. */
export type Request<O extends Opcode = Opcode> = {
  [K in O]: RequestPayload<K> extends undefined
    ? { msgId: number; opcode: K; payload?: undefined }
    : { msgId: number; opcode: K; payload: RequestPayload<K> };
}[O];

/** A typed response to a request with opcode O (the wire does not say the opcode; the msgId does). */
export type Response<O extends Opcode = Opcode> =
  | { msgId: number; error: 'OK'; payload: ResponsePayload<O> }
  | { msgId: number; error: Exclude<ErrorCode, 'OK'> | UnknownErrorCode; payload?: undefined };
/** An error code this build does not know: passed on as text rather than dropping the response. */
export type UnknownErrorCode = string & { readonly unknownErrorCode?: never };

// ---------------------------------------------------------- wire frames

/** A response frame as the decoder checks it: field types only, payload not yet tied to an opcode. */
export interface ResponseFrame {
  msgId: number;
  error: string;
  payload?: JsonObject | JsonValue[];
}
/** A request frame as the simulator's decoder checks it. */
export interface RequestFrame {
  msgId: number;
  opcode: string;
  payload?: JsonObject;
}

// ---------------------------------------------------------------- events

/** The `!SPARK` handshake, field names in camelCase; hex fields as sent. */
export interface Handshake {
  firmwareVersion: string;
  protoVersion: string;
  firmwareDate: string;
  protoDate: string;
  systemVersion: string;
  platform: string;
  /** Two hex digits, upper-cased; see RESET_REASONS. */
  resetReason: string;
  /** Two hex digits, upper-cased; see RESET_DATA. */
  resetData: string;
  deviceId: string;
}

export type ControllerEvent =
  | { type: 'handshake'; handshake: Handshake }
  | { type: 'setupMode' }
  | { type: 'cboxError'; code: number }
  | { type: 'firmwareUpdater'; firmwareVersion: string; protoVersion: string }
  | { type: 'unknown'; text: string };

// ---------------------------------------------------------- decoder out

/** What went wrong with a piece of input; each kind has its own counter. */
export type DecodeErrorKind = 'framing' | 'crc' | 'badJson' | 'badFields' | 'rawBracket' | 'badEvent';

export interface DecodeError {
  kind: 'error';
  error: DecodeErrorKind;
  /** Why, for a log line. */
  reason: string;
  /** The start of the offending bytes (at most 64, latin1), for a log line. */
  sample: string;
  /**
   * Set when the frame's checksum and JSON were good and its msgId could be
   * read, but the rest was not acceptable: the request it answers can be
   * failed at once instead of waiting for its timeout.
   */
  msgId?: number;
}

export type Decoded<F> =
  | { kind: 'frame'; frame: F }
  | { kind: 'event'; event: ControllerEvent }
  | { kind: 'log'; level: LogLevel; text: string }
  | DecodeError;

export interface DecoderCounters {
  /** Bytes pushed in. */
  bytes: number;
  /** Valid frames handed out. */
  frames: number;
  /** Log annotations handed out. */
  logs: number;
  /** Event annotations handed out (including unknown events). */
  events: number;
  /** Data lines over 8192 bytes or annotations over 1024 bytes. */
  framingErrors: number;
  /** Checksum missing, malformed or wrong. */
  crcErrors: number;
  /** Checksum right but the JSON does not parse. */
  badJson: number;
  /** JSON parses but a field is missing or of the wrong type, or it nests deeper than MAX_JSON_DEPTH. */
  badFields: number;
  /** A raw `<` or `>` where the spec forbids it (a `>` in a frame, an annotation broken by `\n` or `<`). */
  rawBracket: number;
  /** An event annotation with the wrong number or form of fields (e.g. a handshake with 9 fields). */
  badEvents: number;
}

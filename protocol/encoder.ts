/**
 * Frames and annotations as bytes on the wire: `<json>#<crc>\n` with `<`,
 * `>` escaped inside the JSON, and `<text>` annotations. The service encodes
 * requests; the simulator encodes responses and events. Whatever the encoder
 * accepts, the decoder decodes to the same value: inputs that would break
 * that (a msgId out of range, a frame over the line bound or nested past the
 * depth bound, a `>` in an annotation) are refused with an EncodeError
 * instead of being sent broken.
 */
import { EncodeError } from './errors.js';
import { formatEvent, formatLog } from './annotation.js';
import { crc8, crcHex } from './crc8.js';
import { isMsgId } from './payloads.js';
import { scanJson } from './scan.js';
import {
  MAX_ANNOTATION_BYTES,
  MAX_JSON_DEPTH,
  MAX_LINE_BYTES,
  type ControllerEvent,
  type JsonValue,
  type LogLevel,
  type Opcode,
  type Request,
  type RequestPayload,
  type ResponseFrame,
} from './model.js';

/** `<`, `>` may not appear raw anywhere in a frame; JSON.stringify already escapes `\n` inside strings. */
const RAW_BRACKETS = /[<>]/g;
const escapeBracket = (c: string): string => (c === '<' ? '\\u003c' : '\\u003e');

/** Any JSON object as one frame. Throws EncodeError when it cannot be sent intact. */
export function encodeFrame(message: Readonly<Record<string, unknown>>): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(message);
  } catch (cause) {
    throw new EncodeError('message is not serializable to JSON', { cause });
  }
  if (json === undefined) throw new EncodeError('message is not serializable to JSON');
  json = json.replace(RAW_BRACKETS, escapeBracket);
  const length = Buffer.byteLength(json);
  // 3 more for `#hh`; the bound counts the whole line without its `\n`.
  if (length + 3 > MAX_LINE_BYTES) {
    throw new EncodeError(`frame of ${length + 3} bytes exceeds the ${MAX_LINE_BYTES}-byte line bound`);
  }
  const out = Buffer.allocUnsafe(length + 4);
  out.write(json, 0, 'utf8');
  const depth = scanJson(out, length);
  if (depth > MAX_JSON_DEPTH) {
    throw new EncodeError(`frame nested ${depth} levels deep exceeds the ${MAX_JSON_DEPTH}-level bound`);
  }
  out.write(`#${crcHex(crc8(out, 0, length))}\n`, length, 'latin1');
  return out;
}

/** A request; `payload` is required exactly when the opcode takes one. */
export function encodeRequest<O extends Opcode>(request: Request<O>): Buffer {
  if (!isMsgId(request.msgId))
    throw new EncodeError(`msgId ${String(request.msgId)} is not an integer 1..65535`);
  const message: Record<string, unknown> = { msgId: request.msgId, opcode: request.opcode };
  const payload: RequestPayload<O> | undefined = request.payload;
  if (payload !== undefined) message.payload = payload;
  return encodeFrame(message);
}

/** A response (the simulator's side). */
export function encodeResponse(response: {
  msgId: number;
  error: string;
  payload?: ResponseFrame['payload'] | JsonValue;
}): Buffer {
  if (!isMsgId(response.msgId)) {
    throw new EncodeError(`msgId ${String(response.msgId)} is not an integer 1..65535`);
  }
  const message: Record<string, unknown> = { msgId: response.msgId, error: response.error };
  if (response.payload !== undefined) message.payload = response.payload;
  return encodeFrame(message);
}

/** `<text>`; refuses text the decoder could not give back (brackets, newline, over the bound). */
export function encodeAnnotation(text: string): Buffer {
  if (/[<>\n]/.test(text)) throw new EncodeError('annotation text contains <, > or a newline');
  const length = Buffer.byteLength(text);
  if (length > MAX_ANNOTATION_BYTES) {
    throw new EncodeError(`annotation of ${length} bytes exceeds the ${MAX_ANNOTATION_BYTES}-byte bound`);
  }
  return Buffer.from(`<${text}>`, 'utf8');
}

export function encodeEvent(event: ControllerEvent): Buffer {
  return encodeAnnotation(formatEvent(event));
}

export function encodeLog(level: LogLevel, text: string): Buffer {
  return encodeAnnotation(formatLog(level, text));
}

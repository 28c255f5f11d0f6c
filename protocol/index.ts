/**
 * The controller protocol codec: pure, no I/O. Decode with ResponseDecoder
 * (service side) or RequestDecoder (controller side), encode with
 * encodeRequest / encodeResponse / encodeEvent / encodeLog.
 */
export { crc8, crcHex } from './crc8.js';
export {
  StreamDecoder,
  ResponseDecoder,
  RequestDecoder,
  type DecodeListener,
  type DecoderOptions,
  type FrameCheck,
} from './decoder.js';
export {
  encodeFrame,
  encodeRequest,
  encodeResponse,
  encodeAnnotation,
  encodeEvent,
  encodeLog,
} from './encoder.js';
export { parseAnnotation, formatEvent, formatLog, type Annotation } from './annotation.js';
export {
  checkRequestFrame,
  checkResponseFrame,
  checkRequestPayload,
  parseResponsePayload,
  isOpcode,
  isErrorCode,
  isMsgId,
  isBlockId,
  isJsonObject,
} from './payloads.js';
export * from './model.js';

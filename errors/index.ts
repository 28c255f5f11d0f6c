/** The base error class, its cross-thread form, and the catalogue of every code. */
export { ERROR_CATALOGUE, isErrorCode } from './catalogue.js';
export type { ErrorCode } from './catalogue.js';
export { QUOTE_MAX_CHARS, printable, quote } from './quote.js';
export {
  RemoteError,
  TetherError,
  describe,
  deserializeError,
  registerErrorClass,
  serializeError,
} from './tether-error.js';
export type { SerializedError } from './tether-error.js';

/**
 * Errors of the codec: what cannot be encoded, and payloads that do not have
 * their opcode's shape. Registered so they are rebuilt as their own class
 * after crossing a thread boundary.
 */
import { registerErrorClass, TetherError } from '../errors/index.js';

/** A frame or annotation that cannot be encoded under the protocol (bad msgId, too long, not JSON). */
export class EncodeError extends TetherError {
  declare readonly code: 'TETHER_ENCODE_FAILED';
  constructor(why: string, options?: { cause?: unknown }) {
    super('TETHER_ENCODE_FAILED', `cannot encode: ${why}`, { ...options, detail: { why } });
  }
}

/** A response payload that does not have the shape its opcode promises. */
export class PayloadError extends TetherError {
  declare readonly code: 'TETHER_BAD_PAYLOAD';
  constructor(opcode: string, why: string) {
    super('TETHER_BAD_PAYLOAD', `bad ${opcode} payload: ${why}`, { detail: { opcode, why } });
  }
}

registerErrorClass('TETHER_ENCODE_FAILED', EncodeError);
registerErrorClass('TETHER_BAD_PAYLOAD', PayloadError);

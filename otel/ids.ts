/**
 * Random trace and span ids as lower-case hex, for the workers' lean
 * tracer. Random bytes are drawn 4 KiB at a time and turned into hex in one
 * native call; an id is then a slice of that text (V8 makes a slice of a
 * long string without copying), which keeps an id to a few nanoseconds
 * rather than the hundreds that per-byte formatting costs.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let hex = '';
/** Next unused byte of the pool; at the end, the pool is refilled. */
let next = POOL_BYTES;

function take(bytes: number): string {
  if (next + bytes > POOL_BYTES) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    next = 0;
  }
  const at = next;
  next += bytes;
  // An all-zero id is invalid (a chance of 2^-64 for a span id): take the next one.
  for (let i = at; i < at + bytes; i += 1) {
    if (pool[i] !== 0) return hex.slice(at * 2, (at + bytes) * 2);
  }
  return take(bytes);
}

/** 16 hex digits, never all zero (an invalid id). */
export function newSpanId(): string {
  return take(8);
}

/** 32 hex digits, never all zero (an invalid id). */
export function newTraceId(): string {
  return take(16);
}

/**
 * Random trace and span ids as lower-case hex, for the workers' lean
 * tracer. Random bytes are drawn 4 KiB at a time; an id is its bytes of
 * that pool turned into hex by one native call. A flat string, not a slice
 * of one long hex text: reading a sliced string's characters (as the OTLP
 * encoder does with every id) costs several times a flat one's.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
/** Next unused byte of the pool; at the end, the pool is refilled. */
let next = POOL_BYTES;

function take(bytes: number): string {
  if (next + bytes > POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  const at = next;
  next += bytes;
  // An all-zero id is invalid (a chance of 2^-64 for a span id): take the next one.
  for (let i = at; i < at + bytes; i += 1) {
    if (pool[i] !== 0) return pool.toString('hex', at, at + bytes);
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

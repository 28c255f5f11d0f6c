/**
 * Random trace and span ids as lower-case hex, for the workers' lean
 * tracer. Math.random is what the SDK's RandomIdGenerator uses too (ids need
 * to be unique, not secret); a table of byte strings keeps it to a few
 * string joins.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function word(): string {
  const w = (Math.random() * 0x100000000) >>> 0;
  return (
    (HEX[w >>> 24] as string) +
    (HEX[(w >>> 16) & 0xff] as string) +
    (HEX[(w >>> 8) & 0xff] as string) +
    (HEX[w & 0xff] as string)
  );
}

const ZERO_SPAN = '0000000000000000';
const ZERO_TRACE = '00000000000000000000000000000000';

/** 16 hex digits, never all zero (an invalid id). */
export function newSpanId(): string {
  const id = word() + word();
  return id === ZERO_SPAN ? '0000000000000001' : id;
}

/** 32 hex digits, never all zero (an invalid id). */
export function newTraceId(): string {
  const id = word() + word() + word() + word();
  return id === ZERO_TRACE ? '00000000000000000000000000000001' : id;
}

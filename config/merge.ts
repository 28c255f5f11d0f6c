/**
 * Layering plain data: deep merge (mappings merge key by key, anything else,
 * lists included, is replaced whole), setting a value at a path, listing the
 * leaves a layer sets, and dropping empty (null) entries of known keys.
 */
import type { z } from 'zod';
import { fieldsOf } from './shape.js';

export type Plain = Record<string, unknown>;
export type Path = Array<string | number>;

export function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets an own property whatever its name: `out[key] = value` with the key
 * `__proto__` would set the object's prototype instead, and every key of
 * the value would then be read through it as if it were a setting. The
 * loaders refuse such keys; this keeps merging safe should one get through.
 */
export function setOwn(target: Plain, key: string, value: unknown): void {
  // Plain assignment for every other key: defining properties one by one is several times slower.
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function own(target: Plain, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlain(base) || !isPlain(over)) return over;
  const out: Plain = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(over)) setOwn(out, key, deepMerge(own(base, key), value));
  return out;
}

/** Sets `value` at `path`, making (or replacing non-mapping values with) mappings on the way. */
export function setIn(target: Plain, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = own(node, key);
    if (isPlain(next)) {
      node = next;
    } else {
      const made: Plain = {};
      setOwn(node, key, made);
      node = made;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) setOwn(node, last, deepMerge(own(node, last), value));
}

/** Every path a layer sets a value at (mappings are walked, not counted). */
export function leaves(value: unknown, prefix: Path = []): Path[] {
  if (!isPlain(value)) return [prefix];
  return Object.entries(value).flatMap(([key, inner]) => leaves(inner, [...prefix, key]));
}

/**
 * Drops null entries of keys the schema knows, so a section whose lines are
 * all commented out (`tcp:` and nothing under it) means "defaults", as a
 * person expects. Unknown keys are kept, null or not, to be reported.
 */
export function dropEmpty(value: unknown, schema: z.ZodType): unknown {
  const fields = fieldsOf(schema);
  if (!isPlain(value) || fields === undefined) return value;
  const out: Plain = {};
  for (const [key, inner] of Object.entries(value)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (field === undefined) setOwn(out, key, inner);
    else if (inner !== null) setOwn(out, key, dropEmpty(inner, field));
  }
  return out;
}

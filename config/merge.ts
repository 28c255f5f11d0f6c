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

export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlain(base) || !isPlain(over)) return over;
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = deepMerge(base[key], value);
  return out;
}

/** Sets `value` at `path`, making (or replacing non-mapping values with) mappings on the way. */
export function setIn(target: Plain, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = isPlain(next) ? next : (node[key] = {});
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = deepMerge(node[last], value);
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
    if (field === undefined) out[key] = inner;
    else if (inner !== null) out[key] = dropEmpty(inner, field);
  }
  return out;
}

/**
 * Reading the schema's shape: which keys exist under a path, and whether a
 * field holds text. The environment needs both (to map variable names to
 * keys, and to keep a string such as a hex device id from being read as a
 * number), and error reports use the key lists for "did you mean".
 */
import { z } from 'zod';

type Schema = z.ZodType;

/** Looks through wrappers that do not change what a value may be. */
function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as Schema;
    } else {
      return current;
    }
  }
}

/** The fields of an object schema, or of the object branches of a union (heartbeat is `{...} | false`). */
export function fieldsOf(schema: Schema): Record<string, Schema> | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return inner.shape as Record<string, Schema>;
  if (inner instanceof z.ZodUnion) {
    let fields: Record<string, Schema> | undefined;
    for (const option of inner.options as readonly Schema[]) {
      const found = fieldsOf(option);
      if (found !== undefined) fields = { ...fields, ...found };
    }
    return fields;
  }
  return undefined;
}

/** The schema at a key path, or undefined when the path names no field. */
export function schemaAt(root: Schema, path: readonly string[]): Schema | undefined {
  let current: Schema | undefined = root;
  for (const key of path) {
    const fields: Record<string, Schema> | undefined = current === undefined ? undefined : fieldsOf(current);
    current = fields !== undefined && Object.hasOwn(fields, key) ? fields[key] : undefined;
  }
  return current;
}

/** True when every value the field accepts is a string, so text from the environment is taken verbatim. */
export function isText(schema: Schema): boolean {
  const inner = unwrap(schema);
  switch (inner.type) {
    case 'string':
      return true;
    case 'enum':
      return (inner as z.ZodEnum).options.every((o) => typeof o === 'string');
    case 'literal':
      return [...(inner as z.ZodLiteral).values].every((v) => typeof v === 'string');
    case 'union':
      return ((inner as z.ZodUnion).options as readonly Schema[]).every(isText);
    default:
      return false;
  }
}

/** Every key path in the schema, sections and leaves alike, parents before children. */
export function allPaths(root: Schema): string[][] {
  const out: string[][] = [];
  const walk = (schema: Schema, prefix: string[]): void => {
    const fields = fieldsOf(schema);
    if (fields === undefined) return;
    for (const [key, field] of Object.entries(fields)) {
      const path = [...prefix, key];
      out.push(path);
      walk(field, path);
    }
  };
  walk(root, []);
  return out;
}

/** True when the field holds a list, so `a,b` from the environment can be split. */
export function isList(schema: Schema): boolean {
  return unwrap(schema) instanceof z.ZodArray;
}

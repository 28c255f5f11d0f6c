/**
 * zod issues turned into problems a person can act on: one per unknown key
 * (with "did you mean"), the branch that went deepest for a union, and short
 * messages that say what was expected and what was found. Where a problem
 * came from (file, variable, flags) is added by the caller.
 */
import type { z } from 'zod';
import { fieldsOf, schemaAt } from './shape.js';
import { closest } from '../runtime/suggest.js';

type Issue = z.core.$ZodIssue;

export interface PathProblem {
  path: Array<string | number>;
  message: string;
}

export function problemsFromIssues(issues: readonly Issue[], root: z.ZodType): PathProblem[] {
  const out: PathProblem[] = [];
  for (const issue of issues) collect(issue, [], root, out);
  return out;
}

function collect(issue: Issue, prefix: Array<string | number>, root: z.ZodType, out: PathProblem[]): void {
  const path = [...prefix, ...issue.path.map(segment)];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const fields = fieldsOf(schemaAt(root, path.map(String)) ?? root);
      // The first few are what a person fixes first; forty thousand of them would only take time to list.
      for (const key of issue.keys.slice(0, UNKNOWN_KEYS_LISTED)) {
        const near = fields === undefined ? undefined : closest(key, Object.keys(fields));
        out.push({
          path: [...path, key],
          message: near === undefined ? 'unknown key' : `unknown key (did you mean "${near}"?)`,
        });
      }
      const more = issue.keys.length - UNKNOWN_KEYS_LISTED;
      const next = issue.keys[UNKNOWN_KEYS_LISTED];
      // Pointed at the first one left out, so the lines stay in the order of the file.
      if (more > 0 && next !== undefined) {
        out.push({
          path: [...path, next],
          message: more === 1 ? 'unknown key' : `unknown key, and ${more - 1} more from here`,
        });
      }
      return;
    }
    case 'invalid_union': {
      // A branch whose issues are deeper than "wrong type here" is the one the value was meant for
      // (an object given for heartbeat); report its issues rather than a vague "no branch matched".
      const meant = issue.errors.filter((branch) => !branch.every(isShallowMismatch));
      if (meant.length === 1) {
        for (const inner of meant[0] ?? []) collect(inner, path, root, out);
        return;
      }
      out.push({ path, message: isSecret(path) ? issue.message : withInput(issue.message, issue.input) });
      return;
    }
    default:
      out.push({ path, message: describeIssue(issue, isSecret(path)) });
  }
}

/** Unknown keys named one by one in one mapping; the rest are counted. */
export const UNKNOWN_KEYS_LISTED = 5;

/** Fields whose value an error must never repeat (it would end up in a terminal or a log). */
function isSecret(path: ReadonlyArray<string | number>): boolean {
  return path[path.length - 1] === 'token';
}

function segment(key: PropertyKey): string | number {
  return typeof key === 'number' ? key : String(key);
}

function isShallowMismatch(issue: Issue): boolean {
  return (
    issue.path.length === 0 &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_format')
  );
}

function describeIssue(issue: Issue, secret: boolean): string {
  const withReceived = (message: string, input: unknown): string =>
    secret ? message : withInput(message, input);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'integer' : issue.expected;
      // "expected integer, received number" would be no help for 1.5; show the value for numbers.
      const found = kindOf(issue.input);
      return `expected ${expected}, received ${found === 'number' && !secret ? String(issue.input) : found}`;
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const expected = options.length === 1 ? options[0] : `one of ${options.join(', ')}`;
      return withReceived(`expected ${expected}`, issue.input);
    }
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1) return 'must not be empty';
      return withReceived(
        `must be ${issue.inclusive === false ? 'above' : 'at least'} ${issue.minimum}`,
        issue.input,
      );
    case 'too_big':
      return withReceived(
        `must be ${issue.inclusive === false ? 'below' : 'at most'} ${issue.maximum}`,
        issue.input,
      );
    default:
      // Formats and refinements carry the schema's own message, written for this purpose.
      return withReceived(issue.message, issue.input);
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Appends the offending value when it is short and scalar; objects would only clutter the line. */
function withInput(message: string, input: unknown): string {
  if (input === undefined || (typeof input === 'object' && input !== null)) return message;
  const shown = JSON.stringify(input);
  return shown.length > 40 ? message : `${message}, received ${shown}`;
}

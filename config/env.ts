/**
 * The environment as a configuration layer.
 *
 * Naming rule: `TETHER_` + the key path, each key in SCREAMING_SNAKE_CASE,
 * levels joined by a double underscore:
 *
 *     discovery.tcp.port            TETHER_DISCOVERY__TCP__PORT
 *     stateDir                      TETHER_STATE_DIR
 *     log.level                     TETHER_LOG__LEVEL
 *     supervision.children.watchdog.memoryLimitMb
 *                                   TETHER_SUPERVISION__CHILDREN__WATCHDOG__MEMORY_LIMIT_MB
 *
 * A section can be set whole with a YAML flow mapping
 * (`TETHER_CONNECTION__RETRY='{initialMs: 1000}'`); deeper variables win over
 * shallower ones. Values of text fields are taken verbatim (a device id of
 * digits stays text); other values are read as YAML, so `8333`, `true`,
 * `[a, b]` work, and a list also takes `a,b`. An empty value of a non-text
 * field means "not set here", as an empty key does in the file.
 *
 * Every other `TETHER_` variable is refused, so a typo does not pass
 * silently, except the few in `NON_CONFIG_VARIABLES`.
 */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { ConfigProblem } from './errors.js';
import { setIn, type Plain } from './merge.js';
import { allPaths, isList, isText, schemaAt } from './shape.js';
import { closest } from '../runtime/suggest.js';
import { checkKeys, toPlain } from './yaml-file.js';

const PREFIX = 'TETHER_';

/** `TETHER_` variables that are not configuration keys: the file path itself. */
export const NON_CONFIG_VARIABLES: ReadonlySet<string> = new Set(['TETHER_CONFIG']);

export function envName(path: readonly string[]): string {
  return PREFIX + path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** The key path a variable name would stand for (`TETHER_A__B_C` -> `a.bC`), for naming an unknown one. */
function guessKey(variable: string): string {
  return variable
    .slice(PREFIX.length)
    .split('__')
    .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
    .join('.');
}

export interface EnvSetting {
  variable: string;
  path: string[];
  value: unknown;
}

export interface EnvLayer {
  value: Plain;
  /** The variables applied, shallow paths first (the order they were merged in). */
  settings: EnvSetting[];
  problems: ConfigProblem[];
}

export function readEnv(env: NodeJS.ProcessEnv, root: z.ZodType): EnvLayer {
  const known = new Map(allPaths(root).map((path) => [envName(path), path]));
  const settings: EnvSetting[] = [];
  const problems: ConfigProblem[] = [];

  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(PREFIX) || NON_CONFIG_VARIABLES.has(variable) || raw === undefined) continue;
    const path = known.get(variable);
    if (path === undefined) {
      const near = closest(variable, known.keys());
      const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
      problems.push({
        source: 'env',
        variable,
        key: guessKey(variable),
        message: `not a configuration key${hint}`,
      });
      continue;
    }
    const field = schemaAt(root, path) ?? root;
    const parsed = readValue(raw, field);
    if ('error' in parsed) {
      problems.push({ source: 'env', variable, key: path.join('.'), message: parsed.error });
    } else if (parsed.value !== null) {
      settings.push({ variable, path, value: parsed.value });
    }
  }

  // Shallow first, so TETHER_A__B__C refines what TETHER_A__B set, whatever order the environment lists them in.
  settings.sort((a, b) => a.path.length - b.path.length || a.variable.localeCompare(b.variable));
  const value: Plain = {};
  for (const setting of settings) setIn(value, setting.path, setting.value);
  return { value, settings, problems };
}

/** A value refused while being made into data; becomes the variable's problem. */
class RefusedValue extends Error {}

function readValue(raw: string, field: z.ZodType): { value: unknown } | { error: string } {
  // Text is taken as is, "" included: TETHER_DEVICE__ID= must be able to undo a device id set in the file.
  if (isText(field)) return { value: raw };
  if (raw.trim() === '') return { value: null };
  const doc = parseDocument(raw, { prettyErrors: false, uniqueKeys: false });
  const first = doc.errors[0];
  if (first !== undefined) return { error: `not valid YAML: ${first.message}` };
  // The same bounds as a file: no key that reaches object machinery, no alias bomb.
  const badKey = checkKeys(doc)[0];
  if (badKey !== undefined) return { error: `${badKey.path.join('.')}: ${badKey.message}` };
  let value: unknown;
  try {
    value = toPlain(doc, (message) => new RefusedValue(message));
  } catch (error) {
    if (error instanceof RefusedValue) return { error: error.message };
    throw error;
  }
  if (isList(field) && typeof value === 'string') {
    return {
      value: value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    };
  }
  return { value };
}

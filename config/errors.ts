/**
 * Configuration errors. A `ConfigError` lists every problem found, each with
 * where it came from: a file position, an environment variable, or the
 * command-line flags. Its message is those problems, one per line, in the
 * `file:line:column: key: message` form editors and terminals link to.
 */
import { TetherError, quote, registerErrorClass } from '../errors/index.js';

/** A dotted key path, array items in brackets: `discovery.usb.ids[1]`; "" is the whole document. */
export type ConfigKey = string;

export type ConfigProblem =
  | { source: 'file'; file: string; line: number; column: number; key: ConfigKey; message: string }
  | { source: 'env'; variable: string; key: ConfigKey; message: string }
  | { source: 'flags'; key: ConfigKey; message: string };

/** Problems listed by one error; a file with thousands of them is fixed from the top anyway. */
export const MAX_PROBLEMS_LISTED = 20;

export class ConfigError extends TetherError {
  declare readonly code: 'TETHER_CONFIG_INVALID';

  constructor(problems: readonly ConfigProblem[]) {
    const sorted = [...problems].sort(byPlace);
    const listed = sorted.slice(0, MAX_PROBLEMS_LISTED).map(quoted);
    const more = sorted.length - listed.length;
    const lines = listed.map(formatProblem);
    if (more > 0) lines.push(`and ${more} more problem${more === 1 ? '' : 's'}`);
    super('TETHER_CONFIG_INVALID', lines.join('\n'), { detail: { problems: listed, more } });
  }

  /** The problems, also kept in `detail` so they survive a thread boundary. */
  get problems(): readonly ConfigProblem[] {
    return (this.detail.problems ?? []) as readonly ConfigProblem[];
  }
}

/** A file named explicitly (flag or TETHER_CONFIG) that cannot be read; `reason` is the errno code. */
export class ConfigNotFoundError extends TetherError {
  declare readonly code: 'TETHER_CONFIG_NOT_FOUND';

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    const why =
      reason === 'ENOENT' ? 'no such configuration file' : `configuration file cannot be read (${reason})`;
    super('TETHER_CONFIG_NOT_FOUND', `${file}: ${why}`, { ...options, detail: { file, reason } });
  }
}

registerErrorClass('TETHER_CONFIG_INVALID', ConfigError);
registerErrorClass('TETHER_CONFIG_NOT_FOUND', ConfigNotFoundError);

const SOURCE_ORDER = { file: 0, env: 1, flags: 2 } as const;

/** File problems in reading order, then variables by name, then flags: the order a person fixes them in. */
function byPlace(a: ConfigProblem, b: ConfigProblem): number {
  if (a.source !== b.source) return SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source];
  if (a.source === 'file' && b.source === 'file') return a.line - b.line || a.column - b.column;
  if (a.source === 'env' && b.source === 'env') return a.variable.localeCompare(b.variable);
  return 0;
}

/**
 * A problem with what it quotes of outside text (the file name, a variable's
 * name, a key, a message that may repeat a value) cut short and made
 * printable: a megabyte-long key or an escape sequence is not echoed whole.
 */
function quoted(problem: ConfigProblem): ConfigProblem {
  const key = quote(problem.key);
  const message = quote(problem.message, MAX_MESSAGE_CHARS);
  switch (problem.source) {
    case 'file':
      return { ...problem, file: quote(problem.file, MAX_MESSAGE_CHARS), key, message };
    case 'env':
      return { ...problem, variable: quote(problem.variable), key, message };
    case 'flags':
      return { ...problem, key, message };
  }
}

const MAX_MESSAGE_CHARS = 400;

/** One line: `tether.yaml:12:5: discovery.usb.baudRate: expected number, received string`. */
export function formatProblem(problem: ConfigProblem): string {
  const where =
    problem.source === 'file'
      ? `${problem.file}:${problem.line}:${problem.column}`
      : problem.source === 'env'
        ? problem.variable
        : 'flags';
  return problem.key === '' ? `${where}: ${problem.message}` : `${where}: ${problem.key}: ${problem.message}`;
}

/** Dotted form of a path as zod and the YAML walker give it. */
export function keyOf(path: readonly PropertyKey[]): ConfigKey {
  let key = '';
  for (const segment of path) {
    if (typeof segment === 'number') key += `[${segment}]`;
    else key += key === '' ? String(segment) : `.${String(segment)}`;
  }
  return key;
}

/**
 * The command line's logger: JSON lines for machines, a readable line per
 * event for a person at a terminal.
 *
 * - `json`: pino's own JSON lines on stdout (journald, Docker, a pipe to jq).
 * - `pretty`: pino-pretty turns each record into one line: local time, level
 *   name, actor, message, and the fields that matter. Phase transitions and
 *   supervision events stand out (bold and coloured, or marked when colours
 *   are off).
 * - `auto` (the default): `pretty` when stdout is a terminal, `json` otherwise.
 *
 * Every actor's line already reaches this logger in the main thread (a worker
 * posts its records to its host, runtime/host.ts), so the formatting runs
 * here, synchronously, in the main thread: no transport thread, and no line
 * lost when the process exits right after logging. docs/decisions/ says why
 * pino-pretty is used through `prettyFactory` rather than as a transport.
 *
 * Outside input can reach a log line (a device id, a controller's message),
 * so everything printed to the terminal has its control characters escaped:
 * no escape sequence from a log field ever reaches the terminal.
 */
import { pino } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { createLogger } from '../runtime/index.js';

export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

export interface CliLoggerOptions {
  level: string;
  format: LogFormat;
  name?: string;
  /** Fields added to every line (the active span's trace ids). */
  mixin?: () => object;
  /** Where the decision for `auto` and for colours is taken; default process.stdout and process.env. */
  stdout?: { readonly isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/** `auto` resolved: pretty on a terminal, JSON lines anywhere else. */
export function resolveLogFormat(format: LogFormat, stdoutIsTTY: boolean): 'json' | 'pretty' {
  if (format === 'auto') return stdoutIsTTY ? 'pretty' : 'json';
  return format;
}

/** Colours as most terminal programs decide: NO_COLOR wins, then FORCE_COLOR, then a terminal that is not dumb. */
export function useColour(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): boolean {
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stdoutIsTTY && env['TERM'] !== 'dumb';
}

export async function createCliLogger(options: CliLoggerOptions): Promise<pino.Logger> {
  const stdout = options.stdout ?? process.stdout;
  const env = options.env ?? process.env;
  const base = {
    level: options.level,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.mixin === undefined ? {} : { mixin: options.mixin }),
  };
  if (resolveLogFormat(options.format, stdout.isTTY === true) === 'json') return createLogger(base);
  // Loaded only when wanted: a service under systemd or Docker never pays for it.
  const { prettyFactory } = await import('pino-pretty');
  const format = prettyFactory(prettyOptions(useColour(env, stdout.isTTY === true)));
  // Synchronous, as pino's default destination is: a line logged just before an exit is written.
  const out = pino.destination({ dest: 1, sync: true });
  return createLogger({ ...base, destination: { write: (line: string) => out.write(format(line)) } });
}

// ------------------------------------------------------------ the line

/** Fields never shown: pino's own, the trace ids (for collectors), and what the line already says. */
const ALWAYS_HIDDEN = new Set([
  'level',
  'time',
  'msg',
  'pid',
  'hostname',
  'name',
  'actor',
  'incarnation',
  'event',
  'supervisor',
  'child',
  'trace_id',
  'span_id',
  'trace_flags',
]);
/** Fields a phase transition's message already carries. */
const PHASE_HIDDEN = new Set(['from', 'to', 'reason', 'generation']);
/** Fields a supervision event's message already carries. */
const SUPERVISION_HIDDEN = new Set(['reason', 'group']);

const MAX_VALUE_CHARS = 120;
const ERROR_LEVEL = 50;

/** pino-pretty's options for our line; exported for the tests, which format records without a stream. */
export function prettyOptions(colour: boolean): PrettyOptions {
  const paint = colour ? PAINT : NO_PAINT;
  return {
    // pino-pretty's own colours wrap the whole message in one colour; ours are set per part below.
    colorize: false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    hideObject: true,
    customPrettifiers: {
      time: (time) => paint.dim(String(time)),
      // `labelColorized` is the plain label here (colorize is off); pino-pretty 13.2 passes
      // `label` as null when no custom levels are set.
      level: (_value, _key, _log, { label, labelColorized }) => {
        const name = String(label ?? labelColorized);
        return paint.level(name, name.padStart(5));
      },
    },
    messageFormat: (log) => formatRecord(log, paint),
  };
}

function formatRecord(log: Record<string, unknown>, paint: Paint): string {
  const event = typeof log['event'] === 'string' ? log['event'] : undefined;
  const isPhase = event === 'phase';
  const isSupervision = event !== undefined && typeof log['supervisor'] === 'string';
  const msg = safeText(typeof log['msg'] === 'string' ? log['msg'] : '');

  let head = '';
  const actor =
    typeof log['actor'] === 'string' ? log['actor'] : isSupervision ? log['supervisor'] : undefined;
  if (typeof actor === 'string') head = `${paint.actor(`[${safeText(actor)}]`)} `;

  let text: string;
  if (isPhase) text = paint.phase(String(log['to']), `==> ${msg}`);
  else if (isSupervision) text = paint.bold(msg);
  else text = msg;

  const hidden = isPhase ? PHASE_HIDDEN : isSupervision ? SUPERVISION_HIDDEN : undefined;
  const fields: string[] = [];
  for (const [key, value] of Object.entries(log)) {
    if (ALWAYS_HIDDEN.has(key) || hidden?.has(key) || value === undefined || key === 'err') continue;
    fields.push(`${paint.dim(`${safeText(key)}=`)}${formatValue(value)}`);
  }
  // The error last, unquoted: it reads as the end of the sentence.
  if (typeof log['err'] === 'object' && log['err'] !== null) {
    fields.push(`${paint.dim('err=')}${safeText(cut(describeError(log['err'])))}`);
  } else if (log['err'] !== undefined) {
    fields.push(`${paint.dim('err=')}${formatValue(log['err'])}`);
  }
  let line = fields.length === 0 ? `${head}${text}` : `${head}${text}  ${fields.join(' ')}`;

  // The stack of an error, under error and fatal lines only: a warning's summary is enough.
  const stack = errorStack(log['err']);
  if (stack !== undefined && typeof log['level'] === 'number' && log['level'] >= ERROR_LEVEL) {
    line += stack
      .split('\n')
      .slice(1)
      .map((frame) => `\n      ${paint.dim(safeText(frame.trim()))}`)
      .join('');
  }
  return line;
}

function formatValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return /^[\w.:/@+#()-]{1,80}$/.test(value) ? value : quote(value);
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  return safeText(cut(json));
}

function describeError(error: object): string {
  const e = error as { code?: unknown; type?: unknown; name?: unknown; message?: unknown };
  const kind = [e.code, e.type, e.name].find((k) => typeof k === 'string' && k !== '');
  const message = typeof e.message === 'string' ? e.message : '';
  return kind === undefined ? message : `${String(kind)}: ${message}`;
}

function errorStack(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const stack = (error as { stack?: unknown }).stack;
  return typeof stack === 'string' ? stack : undefined;
}

function quote(text: string): string {
  return `"${safeText(cut(text)).replace(/"/g, '\\"')}"`;
}

function cut(text: string): string {
  return text.length <= MAX_VALUE_CHARS ? text : `${text.slice(0, MAX_VALUE_CHARS - 1)}…`;
}

/**
 * Control characters (C0, DEL, C1, and the line and paragraph separators)
 * as visible escapes, so a value can neither move the cursor, recolour the
 * terminal, nor start a line that looks like another event.
 */
export function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

// ------------------------------------------------------------ colours

interface Paint {
  dim(text: string): string;
  bold(text: string): string;
  actor(text: string): string;
  level(label: string, text: string): string;
  /** A phase transition, coloured by where it goes. */
  phase(to: string, text: string): string;
}

const sgr =
  (open: string, close: string) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[${close}m`;
const dim = sgr('2', '22');
const bold = sgr('1', '22');
const red = sgr('31', '39');
const green = sgr('32', '39');
const yellow = sgr('33', '39');
const blue = sgr('34', '39');
const magenta = sgr('35', '39');
const cyan = sgr('36', '39');
const inverseRed = sgr('41;97', '49;39');

const LEVEL_PAINT: Record<string, (text: string) => string> = {
  TRACE: dim,
  DEBUG: blue,
  INFO: green,
  WARN: yellow,
  ERROR: red,
  FATAL: inverseRed,
};

const PAINT: Paint = {
  dim,
  bold,
  actor: magenta,
  level: (label, text) => (LEVEL_PAINT[label] ?? ((t: string) => t))(text),
  phase: (to, text) =>
    bold(to === 'Synchronized' ? green(text) : to === 'Disconnected' ? yellow(text) : cyan(text)),
};

const plain = (text: string): string => text;
const NO_PAINT: Paint = {
  dim: plain,
  bold: plain,
  actor: plain,
  level: (_label, text) => text,
  phase: (_to, text) => text,
};

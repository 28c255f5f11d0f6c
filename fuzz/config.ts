/**
 * The configuration loader under mutated YAML: the example file and small
 * valid files, mutated line by line (dropped, doubled, swapped, indented
 * wrong), token by token (values and keys replaced by hostile ones:
 * `__proto__`, huge numbers, control characters, tags, anchors and
 * aliases, flow collections, documents, block scalars) and byte by byte;
 * the same fragments as `TETHER_` variables; and a share written to a file
 * and loaded from it as `tether run` does (bytes that are not UTF-8, NULs,
 * a byte-order mark).
 *
 * For every input: no throw other than ConfigError (TETHER_CONFIG_INVALID)
 * or, for a file, ConfigNotFoundError; every problem names its place (a
 * file problem its file, line >= 1 and column >= 1; a variable problem its
 * variable) and a key; messages are bounded, whatever a key or value held;
 * a configuration that loads loads again, the same, from its own YAML.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, ConfigNotFoundError, envName, loadConfig, resolveConfig } from '../config/index.js';
import type { LoadedConfig } from '../config/index.js';
import { Stopwatch, check, checkAsync, heapUsed } from './outcome.js';
import type { FuzzOutcome } from './outcome.js';

const FILE = 'fuzz.yaml';
/** A problem's message, however long the key or value it is about. */
const MAX_MESSAGE_CHARS = 2000;

const EXAMPLE = readFileSync(new URL('../../tether.example.yaml', import.meta.url), 'utf8');

const SMALL_FILES = [
  'discovery:\n  mode: tcp\n  tcp:\n    host: 192.168.1.50\n',
  'device:\n  id: 000000000000000000000001\nhttp:\n  port: 8331\n  token: abc\n',
  'supervision:\n  children:\n    watchdog:\n      heartbeat: false\n      memoryLimitMb: 32\n',
  'connection:\n  retry: {initialMs: 1000, factor: 2, maxMs: 10000}\nlog:\n  level: debug\n',
  'http:\n  host: 0.0.0.0\n  token: s3cret\n  allowedHosts: [tether.local, .example.com]\n',
  '',
];

/** Scalars a hostile or careless hand might write. */
const HOSTILE_SCALARS = [
  '~',
  'null',
  'true',
  'no',
  'off',
  '0',
  '-1',
  '1e999',
  '.inf',
  '-.nan',
  '0x1F',
  '0o17',
  '9007199254740993',
  '123456789012345678901234567890',
  '2026-01-01',
  '""',
  "''",
  '"\\u0000"',
  '"\\x1b[31mred"',
  '"\\u202e"',
  '!!binary aGVsbG8=',
  '!!js/function "function(){}"',
  '!!set {a, b}',
  '!custom 1',
  '&anchor 1',
  '*anchor',
  '*undefined_alias',
  '[1, [2, [3, [4]]]]',
  '{a: 1, a: 2}',
  '|\n  block',
  '>-\n  folded',
  '[',
  '{',
  '"unterminated',
  '@reserved',
  '`reserved',
  '%TAG',
  '- item',
  '? complex',
  '<<: *anchor',
];

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'unknownKey',
  '',
  '""',
  '"key with spaces"',
  'k\u0000ey',
  '\u202ekey',
  '? [a, b]',
  '<<',
  '1',
  '-',
  'x'.repeat(2000),
];

/** A small "billion laughs": every level ten aliases of the one before. */
function aliasBomb(levels: number): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

/** YAML fragments, whole lines. */
const HOSTILE_LINES = [
  '---',
  '...',
  '%YAML 1.1',
  '%YAML 9.9',
  '# comment',
  '\t',
  '  \t  ',
  '\ufeff',
  '\u0000',
  'key: value: value',
  '- a',
  ': nokey',
  '&a b: *a',
  'x: &x {y: *x}',
  '<<: {mode: tcp}',
  'discovery: !!str',
  'http: [1, 2, 3]',
  'supervision: {children: {connection: {restart: sometimes}}}',
  `deep: ${'['.repeat(200)}${']'.repeat(200)}`,
  `deeper: ${'{a: '.repeat(300)}1${'}'.repeat(300)}`,
  aliasBomb(4),
  aliasBomb(9),
];

type LineEdit =
  | { op: 'drop'; at: number }
  | { op: 'double'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'indent'; at: number; by: number }
  | { op: 'insert'; at: number; line: string }
  | { op: 'value'; at: number; scalar: string }
  | { op: 'key'; at: number; key: string }
  | { op: 'char'; at: number; position: number; char: string };

const lineEdit: fc.Arbitrary<LineEdit> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('double' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), line: fc.constantFrom(...HOSTILE_LINES) }),
  fc.record({
    op: fc.constant('value' as const),
    at: fc.nat(),
    scalar: fc.oneof(fc.constantFrom(...HOSTILE_SCALARS), fc.string({ maxLength: 40 })),
  }),
  fc.record({
    op: fc.constant('key' as const),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ minLength: 1, maxLength: 20 })),
  }),
  fc.record({
    op: fc.constant('char' as const),
    at: fc.nat(),
    position: fc.nat(),
    char: fc.oneof(
      fc.constantFrom(
        ':',
        '-',
        '#',
        '&',
        '*',
        '!',
        '|',
        '>',
        "'",
        '"',
        '%',
        '@',
        '`',
        '{',
        '}',
        '[',
        ']',
        ',',
        '\t',
      ),
      fc.string({ minLength: 1, maxLength: 1 }),
    ),
  }),
);

function edit(text: string, edits: readonly LineEdit[]): string {
  const lines = text.split('\n');
  for (const e of edits) {
    const n = lines.length;
    const at = e.at % Math.max(1, n);
    const line = lines[at] ?? '';
    switch (e.op) {
      case 'drop':
        lines.splice(at, 1);
        break;
      case 'double':
        lines.splice(at, 0, line);
        break;
      case 'swap': {
        const other = e.with % Math.max(1, n);
        lines[at] = lines[other] ?? '';
        lines[other] = line;
        break;
      }
      case 'indent':
        lines[at] =
          e.by >= 0
            ? ' '.repeat(e.by) + line
            : line.slice(Math.min(-e.by, line.length - line.trimStart().length));
        break;
      case 'insert':
        lines.splice(at, 0, ...e.line.split('\n'));
        break;
      case 'value': {
        const colon = line.indexOf(':');
        lines[at] = colon < 0 ? `${line} ${e.scalar}` : `${line.slice(0, colon + 1)} ${e.scalar}`;
        break;
      }
      case 'key': {
        const indent = line.length - line.trimStart().length;
        const colon = line.indexOf(':');
        lines[at] = ' '.repeat(indent) + e.key + (colon < 0 ? ':' : line.slice(colon));
        break;
      }
      case 'char': {
        const p = e.position % (line.length + 1);
        lines[at] = line.slice(0, p) + e.char + line.slice(p);
        break;
      }
    }
  }
  return lines.join('\n');
}

const yamlText: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(EXAMPLE) },
      { weight: 3, arbitrary: fc.constantFrom(...SMALL_FILES) },
    ),
    fc.array(lineEdit, { minLength: 1, maxLength: 8 }),
  )
  .map(([base, edits]) => edit(base, edits));

/** Every configuration variable's name (from a loaded default's keys), and a few that are none. */
function variableNames(): string[] {
  const names: string[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (path.length > 0) names.push(envName(path));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(inner, [...path, key]);
    }
  };
  walk(resolveConfig({ env: {} }).config, []);
  return [...names, 'TETHER_', 'TETHER___PROTO__', 'TETHER_HTTP____PROTO__', 'TETHER_CONFIG', 'TETHER_X'];
}

const envLayer: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.constantFrom(...variableNames()),
  fc.oneof(
    fc.constantFrom(...HOSTILE_SCALARS, ...HOSTILE_LINES),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('{initialMs: 1000}', '[a, b]', 'a,b', '{__proto__: {x: 1}}', '{constructor: 1}'),
  ),
  { maxKeys: 4 },
);

// ------------------------------------------------------------- checking

function fail(why: string): never {
  throw new Error(why);
}

/** The verdict of one load: the configuration, or the problems of a ConfigError (anything else fails). */
function verdict(run: () => LoadedConfig): LoadedConfig | ConfigError {
  try {
    return run();
  } catch (error) {
    if (error instanceof ConfigError) {
      checkProblems(error);
      return error;
    }
    fail(`threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function checkProblems(error: ConfigError): void {
  if (error.code !== 'TETHER_CONFIG_INVALID') fail(`code ${error.code}`);
  if (error.problems.length === 0) fail('a ConfigError without problems');
  for (const problem of error.problems) {
    if (typeof problem.key !== 'string') fail('a problem without a key');
    if (typeof problem.message !== 'string' || problem.message === '') fail('a problem without a message');
    if (problem.message.length > MAX_MESSAGE_CHARS) fail(`a message of ${problem.message.length} characters`);
    if (problem.source === 'file') {
      if (problem.file !== FILE) fail(`a file problem in ${problem.file}`);
      if (!(Number.isInteger(problem.line) && problem.line >= 1)) fail(`line ${problem.line}`);
      if (!(Number.isInteger(problem.column) && problem.column >= 1)) fail(`column ${problem.column}`);
    } else if (problem.source === 'env') {
      if (!problem.variable.startsWith('TETHER_')) fail(`variable ${problem.variable}`);
    }
  }
  if (error.message.length > 25 * MAX_MESSAGE_CHARS)
    fail(`an error message of ${error.message.length} characters`);
}

/** What loaded loads again from its own YAML, to the same configuration. */
function checkRoundTrip(loaded: LoadedConfig): void {
  const again = verdict(() => resolveConfig({ file: FILE, text: stringify(loaded.config), env: {} }));
  if (again instanceof ConfigError)
    fail(`a loaded configuration does not load from its own YAML: ${again.message}`);
  if (JSON.stringify(again.config) !== JSON.stringify(loaded.config)) {
    fail('a loaded configuration loads differently from its own YAML');
  }
}

// ---------------------------------------------------------------- target

export interface ConfigFuzzOptions {
  runs: number;
  seed: number;
}

export async function fuzzConfig(options: ConfigFuzzOptions): Promise<FuzzOutcome> {
  const { runs, seed } = options;
  const watch = new Stopwatch();
  const failures: string[] = [];
  const started = performance.now();
  const heapBefore = heapUsed();
  const share = (fraction: number): number => Math.max(1, Math.round(runs * fraction));
  const record = (what: string, failure: string | undefined): void => {
    if (failure !== undefined) failures.push(`${what}: ${failure}`);
  };

  record(
    'mutated YAML files',
    check(
      fc.property(yamlText, (text) =>
        watch.time(() => {
          const result = verdict(() => resolveConfig({ file: FILE, text, env: {} }));
          if (!(result instanceof ConfigError)) checkRoundTrip(result);
        }),
      ),
      share(0.7),
      seed,
    ),
  );

  record(
    'TETHER_ variables',
    check(
      fc.property(envLayer, fc.constantFrom(...SMALL_FILES), (env, text) =>
        watch.time(() => {
          const result = verdict(() => resolveConfig({ file: FILE, text, env }));
          if (!(result instanceof ConfigError)) checkRoundTrip(result);
        }),
      ),
      share(0.25),
      seed + 1,
    ),
  );

  const dir = await mkdtemp(join(tmpdir(), 'tether-fuzz-config-'));
  try {
    const file = join(dir, FILE);
    record(
      'files read from disk',
      await checkAsync(
        fc.asyncProperty(
          yamlText,
          fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x00, 0xff, 0xc0, 0xed, 0xef, 0xfe, 0x80)), {
            maxLength: 4,
          }),
          fc.boolean(),
          (text, bytes, bom) =>
            watch.timeAsync(async () => {
              let content = Buffer.from(text, 'utf8');
              for (const [at, b] of bytes) if (content.length > 0) content[at % content.length] = b;
              if (bom) content = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), content]);
              await writeFile(file, content);
              try {
                await loadConfig({ file, env: {} });
              } catch (error) {
                if (error instanceof ConfigNotFoundError) return;
                if (!(error instanceof ConfigError)) fail(`threw ${String(error)}`);
                // Problems name the file as given on the command line here.
                for (const p of error.problems) {
                  if (p.source === 'file' && (p.file !== file || p.line < 1 || p.column < 1)) {
                    fail(`a problem at ${p.file}:${p.line}:${p.column}`);
                  }
                }
              }
            }),
        ),
        share(0.05),
        seed + 2,
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  return {
    target: 'config',
    inputs: share(0.7) + share(0.25) + share(0.05),
    ms: performance.now() - started,
    heapGrowthBytes: heapUsed() - heapBefore,
    slowestMs: watch.slowestMs,
    failures,
  };
}

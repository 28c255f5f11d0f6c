/**
 * Hostile configuration text, in a file or in a TETHER_ variable: alias
 * bombs, keys that would reach JavaScript's object machinery, duplicate
 * keys, tens of thousands of unknown keys, a megabyte-long key. Each is a
 * ConfigError naming file, line and column (or the variable), found in
 * linear time, quoting what it must in a few hundred characters at most.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, type ConfigProblem } from '../../config/index.js';
import { BILLION_LAUGHS, onlyProblem, problemsOf, resolveText } from './helpers.js';

function at(problem: ConfigProblem): string {
  assert.equal(problem.source, 'file', JSON.stringify(problem));
  return problem.source === 'file' ? `${problem.line}:${problem.column} ${problem.key}` : '';
}

describe('configuration text: aliases', () => {
  it('a "billion laughs" file is refused at the line and column of its first alias', () => {
    const problem = onlyProblem(() => resolveText(`# a bomb\n${BILLION_LAUGHS}\n`));
    assert.equal(at(problem), '3:8 b[0]');
  });

  it('an alias bomb in a TETHER_ variable is refused as that variable', () => {
    const flow = `{${BILLION_LAUGHS.split('\n').join(', ')}}`;
    const problem = onlyProblem(() => resolveText('', { TETHER_SUPERVISION: flow }));
    assert.equal(problem.source, 'env');
    assert.equal(problem.source === 'env' ? problem.variable : '', 'TETHER_SUPERVISION');
  });

  it('more than a hundred aliases are refused at the first one past the bound, without expanding any', () => {
    const lines = ['x: &x 1', ...Array.from({ length: 150 }, (_, i) => `k${i}: *x`)];
    const problem = onlyProblem(() => resolveText(`${lines.join('\n')}\n`));
    assert.equal(at(problem), '102:7 k100');
  });

  it('an alias with no anchor is a problem at that alias, not a crash', () => {
    const problem = onlyProblem(() => resolveText('log:\n  level: *nope\n'));
    assert.equal(at(problem), '2:10 log.level');
  });

  it('an alias inside its own anchor in a TETHER_ variable is refused as that variable, not a stack overflow', () => {
    // Found by npm run fuzz: the value contains itself, and walking it never ended.
    const problem = onlyProblem(() => resolveText('', { TETHER_DEVICE: 'x: &x {y: *x}' }));
    assert.equal(problem.source, 'env');
    assert.equal(problem.source === 'env' ? problem.variable : '', 'TETHER_DEVICE');
  });

  it('an alias inside its own anchor in a file is refused at that alias', () => {
    const problem = onlyProblem(() => resolveText('discovery:\n  usb: &u\n    ids: [*u]\n'));
    assert.equal(at(problem), '3:11 discovery.usb.ids[0]');
  });

  it('a few aliases sharing a value still work', () => {
    const { config } = resolveText(
      [
        'supervision:',
        '  children:',
        '    connection: &policy { memoryLimitMb: 96 }',
        '    commander: *policy',
        '    synchronization: *policy',
      ].join('\n'),
    );
    assert.equal(config.supervision.children.commander.memoryLimitMb, 96);
    assert.equal(config.supervision.children.synchronization.memoryLimitMb, 96);
    assert.equal(config.supervision.children.watchdog.memoryLimitMb, 64);
  });
});

describe('configuration text: keys', () => {
  it('a key that is a list, a mapping, bytes or a date is refused at its line and column, with no warning on stderr', async () => {
    // Found by npm run fuzz: the YAML library turned it into text and printed a Node warning.
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const problem = onlyProblem(() => resolveText('log:\n  ? [a, b]\n  : 1\n'));
      assert.equal(at(problem).split(' ')[0], '2:5');
      // Tagged keys whose value is bytes or a date are no names either.
      const binary = onlyProblem(() => resolveText('log:\n  !!binary aGVsbG8=: 1\n'));
      assert.equal(at(binary).split(' ')[0], '2:12');
      const date = onlyProblem(() => resolveText('!!timestamp 2001-12-14: 1\n'));
      assert.equal(at(date).split(' ')[0], '1:13');
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('__proto__, constructor and prototype are unknown keys wherever they are, and change nothing', () => {
    const problems = problemsOf(() =>
      resolveText(
        [
          'http:',
          '  __proto__:',
          '    token: sesame',
          'constructor: 1',
          'discovery:',
          '  tcp:',
          '    prototype: { host: evil }',
        ].join('\n'),
      ),
    );
    assert.deepEqual(problems.map(at), [
      '2:3 http.__proto__',
      '4:1 constructor',
      '7:5 discovery.tcp.prototype',
    ]);
    assert.ok(problems.every((p) => p.message === 'unknown key'));
    // Nothing leaked into the prototype of plain objects either.
    assert.equal(({} as Record<string, unknown>)['token'], undefined);
  });

  it('__proto__ in a TETHER_ variable is refused as an unknown key of that variable', () => {
    const problem = onlyProblem(() => resolveText('', { TETHER_HTTP: '{__proto__: {token: sesame}}' }));
    assert.equal(problem.source, 'env');
    assert.match(problem.message, /__proto__/);
  });

  it('a duplicate key is a problem at its second occurrence', () => {
    const problem = onlyProblem(() => resolveText('log:\n  level: warn\n  level: debug\n'));
    assert.equal(at(problem), '3:3 log.level');
  });

  it('forty thousand unknown keys: the first six are named, the rest counted, at once', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  unknown${i}: ${i}`);
    const started = performance.now();
    const problems = problemsOf(() => resolveText(`http:\n${keys.join('\n')}\n`));
    const elapsed = performance.now() - started;
    assert.deepEqual(problems.map(at), [
      '2:3 http.unknown0',
      '3:3 http.unknown1',
      '4:3 http.unknown2',
      '5:3 http.unknown3',
      '6:3 http.unknown4',
      '7:3 http.unknown5',
    ]);
    assert.match(problems[5]?.message ?? '', /39994 more/);
    // Minutes before (quadratic); seconds now, even on a loaded 2-core machine: a wide bound
    // (bench/config.bench.ts has the figures).
    assert.ok(elapsed < 60_000, `took ${Math.round(elapsed)} ms`);
  });

  it('a megabyte-long key is quoted cut short, in a file and as a variable name', () => {
    const long = 'k'.repeat(1_000_000);
    for (const error of [
      catchConfigError(() => resolveText(`"${long}": 1\n`)),
      catchConfigError(() => resolveText('', { [`TETHER_${long.toUpperCase()}`]: '1' })),
    ]) {
      assert.ok(error.message.length < 1000, `message of ${error.message.length} characters`);
      assert.match(error.message, /1000000 characters|1000007 characters/);
      assert.ok(JSON.stringify(error.detail).length < 2000);
    }
  });

  it('escape sequences in keys are quoted escaped', () => {
    const error = catchConfigError(() => resolveText('"\\e]0;pwned\\a": 1\n'));
    assert.equal(/[\u0000-\u001f]/.test(error.message.replace(/\n/g, '')), false, error.message); // eslint-disable-line no-control-regex
    assert.ok(error.message.includes(String.raw`\x1b]0;pwned\x07`), error.message);
  });
});

function catchConfigError(body: () => unknown): ConfigError {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

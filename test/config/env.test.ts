import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NON_CONFIG_VARIABLES, envName, type ConfigProblem } from '../../config/index.js';
import { onlyProblem, problemsOf, resolveText } from './helpers.js';

function envProblem(problem: ConfigProblem): Extract<ConfigProblem, { source: 'env' }> {
  assert.equal(problem.source, 'env');
  return problem as Extract<ConfigProblem, { source: 'env' }>;
}

describe('environment variable names', () => {
  const table: Array<[path: string[], name: string]> = [
    [['discovery', 'mode'], 'TETHER_DISCOVERY__MODE'],
    [['discovery', 'tcp', 'port'], 'TETHER_DISCOVERY__TCP__PORT'],
    [['device', 'id'], 'TETHER_DEVICE__ID'],
    [['stateDir'], 'TETHER_STATE_DIR'],
    [['log', 'level'], 'TETHER_LOG__LEVEL'],
    [['discovery', 'usb', 'giveUpMs'], 'TETHER_DISCOVERY__USB__GIVE_UP_MS'],
    [
      ['supervision', 'children', 'watchdog', 'memoryLimitMb'],
      'TETHER_SUPERVISION__CHILDREN__WATCHDOG__MEMORY_LIMIT_MB',
    ],
  ];
  for (const [path, name] of table) {
    it(`${path.join('.')} is set by ${name}`, () => {
      assert.equal(envName(path), name);
    });
  }
});

describe('environment values', () => {
  it('numbers and booleans are read as YAML scalars', () => {
    const { config } = resolveText('', {
      TETHER_DISCOVERY__TCP__PORT: '8333',
      TETHER_SYNCHRONIZATION__SKIP_VERSION_CHECK: 'true',
      TETHER_CONNECTION__RETRY__FACTOR: '1.25',
    });
    assert.equal(config.discovery.tcp.port, 8333);
    assert.equal(config.synchronization.skipVersionCheck, true);
    assert.equal(config.connection.retry.factor, 1.25);
  });

  it('text fields take the value verbatim, so a device id of digits stays text', () => {
    const { config } = resolveText('', {
      TETHER_DEVICE__ID: '123456789012345678901234',
      TETHER_HTTP__TOKEN: 'true',
    });
    assert.equal(config.device.id, '123456789012345678901234');
    assert.equal(config.http.token, 'true');
  });

  it('an empty text value undoes a value from the file', () => {
    const { config } = resolveText('device:\n  id: 123456789012345678901234\n', { TETHER_DEVICE__ID: '' });
    assert.equal(config.device.id, '');
  });

  it('an empty value of a non-text field means not set', () => {
    const { config } = resolveText('http:\n  port: 9000\n', { TETHER_HTTP__PORT: '' });
    assert.equal(config.http.port, 9000);
  });

  it('a list takes a YAML flow sequence or a comma-separated value', () => {
    const flow = resolveText('', { TETHER_DISCOVERY__USB__IDS: '[2B04:C006, 1234:ABCD]' }).config;
    const commas = resolveText('', { TETHER_DISCOVERY__USB__IDS: '2B04:C006, 1234:ABCD' }).config;
    assert.deepEqual(flow.discovery.usb.ids, ['2B04:C006', '1234:ABCD']);
    assert.deepEqual(commas.discovery.usb.ids, ['2B04:C006', '1234:ABCD']);
  });

  it('a section can be set whole, and a deeper variable refines it', () => {
    const { config } = resolveText('', {
      TETHER_CONNECTION__RETRY__MAX_MS: '60000',
      TETHER_CONNECTION__RETRY: '{initialMs: 1000, factor: 2}',
    });
    assert.deepEqual(config.connection.retry, {
      initialMs: 1000,
      factor: 2,
      maxMs: 60_000,
      resetAfterMs: 5000,
    });
  });

  it('shutdown takes a number or a word', () => {
    const { config } = resolveText('', {
      TETHER_SUPERVISION__CHILDREN__CONNECTION__SHUTDOWN: '250',
      TETHER_SUPERVISION__CHILDREN__COMMANDER__SHUTDOWN: 'brutal_kill',
    });
    assert.equal(config.supervision.children.connection.shutdown, 250);
    assert.equal(config.supervision.children.commander.shutdown, 'brutal_kill');
  });

  it('variables without the TETHER_ prefix and TETHER_CONFIG are not configuration', () => {
    assert.ok(NON_CONFIG_VARIABLES.has('TETHER_CONFIG'));
    const { sources } = resolveText('', {
      PATH: '/bin',
      TETHER_CONFIG: 'elsewhere.yaml',
      tether_log__level: 'x',
    });
    assert.deepEqual(sources.env, []);
  });
});

describe('environment errors name the variable', () => {
  it('an environment variable with a bad value names the variable and the key', () => {
    const problem = envProblem(onlyProblem(() => resolveText('', { TETHER_DISCOVERY__TCP__PORT: 'abc' })));
    assert.equal(problem.variable, 'TETHER_DISCOVERY__TCP__PORT');
    assert.equal(problem.key, 'discovery.tcp.port');
  });

  it('a value out of range names the variable', () => {
    const problem = envProblem(onlyProblem(() => resolveText('', { TETHER_DISCOVERY__MODE: 'serial' })));
    assert.deepEqual([problem.variable, problem.key], ['TETHER_DISCOVERY__MODE', 'discovery.mode']);
  });

  it('a value that is not valid YAML names the variable', () => {
    const problem = envProblem(
      onlyProblem(() => resolveText('', { TETHER_CONNECTION__RETRY: '{initialMs: 1' })),
    );
    assert.equal(problem.variable, 'TETHER_CONNECTION__RETRY');
  });

  it('an unknown key inside a section set whole names the variable', () => {
    const problem = envProblem(
      onlyProblem(() => resolveText('', { TETHER_CONNECTION__RETRY: '{initial: 1}' })),
    );
    assert.deepEqual(
      [problem.variable, problem.key],
      ['TETHER_CONNECTION__RETRY', 'connection.retry.initial'],
    );
  });

  it('an unknown TETHER_ variable is refused, naming it and the closest real one', () => {
    const problem = envProblem(onlyProblem(() => resolveText('', { TETHER_DISCOVERY__MODEE: 'tcp' })));
    assert.equal(problem.variable, 'TETHER_DISCOVERY__MODEE');
    assert.match(problem.message, /TETHER_DISCOVERY__MODE\b/);
  });

  it('a single underscore between levels is not the naming rule, and is refused', () => {
    const problem = envProblem(onlyProblem(() => resolveText('', { TETHER_LOG_LEVEL: 'debug' })));
    assert.equal(problem.variable, 'TETHER_LOG_LEVEL');
  });

  it('the message of an environment problem reads VARIABLE: key: message', () => {
    const problems = problemsOf(() => resolveText('', { TETHER_HTTP__PORT: '-1' }));
    assert.equal(problems.length, 1);
    assert.match(
      String(problems[0]?.message),
      /^must be at least 0/,
      'the structured message has no location; formatProblem adds it',
    );
  });
});

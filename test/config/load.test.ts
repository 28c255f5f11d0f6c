import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CONFIG_DEFAULTS,
  ConfigError,
  ConfigNotFoundError,
  loadConfig,
  type ConfigProblem,
} from '../../config/index.js';
import { deserializeError, serializeError } from '../../runtime/errors.js';
import { HEARTBEAT_FLOORS } from '../../runtime/index.js';
import { onlyProblem, problemsOf, resolveText, tempDir } from './helpers.js';

function fileProblem(problem: ConfigProblem): Extract<ConfigProblem, { source: 'file' }> {
  assert.equal(problem.source, 'file');
  return problem as Extract<ConfigProblem, { source: 'file' }>;
}

describe('precedence: defaults < file < environment < flags', () => {
  it('no file, no environment and no flags give every default', async () => {
    const { config, sources } = await loadConfig({ env: {} });
    assert.deepEqual(config, CONFIG_DEFAULTS);
    assert.equal(sources.file, undefined);
    assert.deepEqual(sources.origins, {});
  });

  it('a file overrides the defaults it names and keeps the rest', () => {
    const { config } = resolveText('discovery:\n  mode: tcp\n  tcp:\n    host: spark.local\n');
    assert.equal(config.discovery.mode, 'tcp');
    assert.equal(config.discovery.tcp.host, 'spark.local');
    assert.equal(config.discovery.tcp.port, CONFIG_DEFAULTS.discovery.tcp.port);
    assert.deepEqual(config.connection, CONFIG_DEFAULTS.connection);
  });

  it('an environment variable overrides the file', () => {
    const { config, sources } = resolveText('discovery:\n  tcp:\n    port: 9000\n', {
      TETHER_DISCOVERY__TCP__PORT: '8333',
    });
    assert.equal(config.discovery.tcp.port, 8333);
    assert.deepEqual(sources.origins['discovery.tcp.port'], {
      source: 'env',
      variable: 'TETHER_DISCOVERY__TCP__PORT',
    });
  });

  it('overrides (flags) override the environment', () => {
    const { config, sources } = resolveText(
      'log:\n  level: warn\n',
      { TETHER_LOG__LEVEL: 'debug' },
      { log: { level: 'trace' } },
    );
    assert.equal(config.log.level, 'trace');
    assert.deepEqual(sources.origins['log.level'], { source: 'flags' });
  });

  it('records where each value that is not a default came from', () => {
    const { sources } = resolveText('http:\n  port: 9000\n', { TETHER_HTTP__HOST: '127.0.0.2' });
    assert.deepEqual(sources.origins, {
      'http.port': { source: 'file', file: 'tether.yaml', line: 2, column: 3 },
      'http.host': { source: 'env', variable: 'TETHER_HTTP__HOST' },
    });
    assert.deepEqual(sources.env, ['TETHER_HTTP__HOST']);
  });

  it('a value from a higher layer replaces a whole value below it (heartbeat: false over a heartbeat mapping)', () => {
    const { config, sources } = resolveText(
      'supervision:\n  children:\n    watchdog:\n      heartbeat: { intervalMs: 200 }\n',
      { TETHER_SUPERVISION__CHILDREN__WATCHDOG__HEARTBEAT: 'false' },
    );
    assert.equal(config.supervision.children.watchdog.heartbeat, false);
    assert.equal(sources.origins['supervision.children.watchdog.heartbeat.intervalMs'], undefined);
  });

  it('a rule across fields set by different layers is checked on the merged result', () => {
    const problem = onlyProblem(() =>
      resolveText(
        'connection:\n  retry:\n    maxMs: 3000\n',
        {},
        { connection: { retry: { initialMs: 5000 } } },
      ),
    );
    assert.equal(problem.key, 'connection.retry.maxMs');
  });
});

describe('file errors name file, line, column and key', () => {
  it('an unknown top-level key is refused with its line, column and key', () => {
    const problem = fileProblem(onlyProblem(() => resolveText('log:\n  level: info\nlogging: true\n')));
    assert.deepEqual(
      { file: problem.file, line: problem.line, column: problem.column, key: problem.key },
      { file: 'tether.yaml', line: 3, column: 1, key: 'logging' },
    );
  });

  it('a nested unknown key is refused with its line, column and dotted key', () => {
    const text = 'discovery:\n  usb:\n    baudRate: 9600\n    baud: 9600\n';
    const problem = fileProblem(onlyProblem(() => resolveText(text)));
    assert.deepEqual([problem.line, problem.column, problem.key], [4, 5, 'discovery.usb.baud']);
  });

  it('an unknown key inside a flow mapping is located at the key', () => {
    const text = 'supervision:\n  children:\n    commander: { heartbeat: { intervalMs: 100, every: 5 } }\n';
    const problem = fileProblem(onlyProblem(() => resolveText(text)));
    assert.deepEqual(
      [problem.line, problem.column, problem.key],
      [3, 48, 'supervision.children.commander.heartbeat.every'],
    );
  });

  it('a heartbeat tighter than the runtime allows is refused, naming the key, and the floors themselves pass', () => {
    const below = `supervision:\n  children:\n    commander: { heartbeat: { intervalMs: ${HEARTBEAT_FLOORS.intervalMs - 1}, timeoutMs: ${HEARTBEAT_FLOORS.timeoutMs - 1} } }\n`;
    const problems = problemsOf(() => resolveText(below));
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      'supervision.children.commander.heartbeat.intervalMs',
      'supervision.children.commander.heartbeat.timeoutMs',
    ]);
    const at = `supervision:\n  children:\n    commander: { heartbeat: { intervalMs: ${HEARTBEAT_FLOORS.intervalMs}, timeoutMs: ${HEARTBEAT_FLOORS.timeoutMs} } }\n`;
    const { config } = resolveText(at);
    assert.deepEqual(config.supervision.children.commander.heartbeat, HEARTBEAT_FLOORS);
  });

  it('a value of the wrong type is reported with line, column and key', () => {
    const text = 'discovery:\n  usb:\n    baudRate: fast\n';
    const problem = fileProblem(onlyProblem(() => resolveText(text)));
    assert.deepEqual([problem.line, problem.column, problem.key], [3, 5, 'discovery.usb.baudRate']);
  });

  it('the error message reads file:line:column: key: message', () => {
    const error = catchConfigError(() => resolveText('discovery:\n  usb:\n    baudRate: fast\n'));
    assert.equal(error.message, 'tether.yaml:3:5: discovery.usb.baudRate: expected number, received string');
  });

  it('every problem in a file is reported at once, in reading order', () => {
    const text = 'http:\n  port: 70000\ntelemetry:\n  sampler: sometimes\nextra: 1\n';
    const problems = problemsOf(() => resolveText(text)).map(fileProblem);
    assert.deepEqual(
      problems.map((p) => [p.line, p.key]),
      [
        [2, 'http.port'],
        [4, 'telemetry.sampler'],
        [5, 'extra'],
      ],
    );
  });

  it('a list item of the wrong form is located at the item', () => {
    const text = 'discovery:\n  usb:\n    ids:\n      - 2B04:C006\n      - 2B04-C008\n';
    const problem = fileProblem(onlyProblem(() => resolveText(text)));
    assert.deepEqual([problem.line, problem.column, problem.key], [5, 9, 'discovery.usb.ids[1]']);
  });

  it('a backoff whose maxMs is below its minMs is refused at maxMs', () => {
    const text = 'supervision:\n  root:\n    backoff:\n      minMs: 5000\n      maxMs: 100\n';
    const problem = fileProblem(onlyProblem(() => resolveText(text)));
    assert.deepEqual([problem.line, problem.key], [5, 'supervision.root.backoff.maxMs']);
  });

  it('a YAML syntax error is reported with line and column', () => {
    const text = 'discovery:\n  mode: tcp\n  usb: { ids: [2B04:C006 }\n';
    const problems = problemsOf(() => resolveText(text)).map(fileProblem);
    assert.ok(problems.length >= 1);
    const first = problems[0];
    assert.equal(first?.file, 'tether.yaml');
    assert.equal(first?.line, 3);
    assert.ok((first?.column ?? 0) > 1);
  });

  it('a duplicate key is a syntax error naming the key', () => {
    const problem = fileProblem(onlyProblem(() => resolveText('log:\n  level: info\n  level: debug\n')));
    assert.deepEqual([problem.line, problem.column, problem.key], [3, 3, 'log.level']);
  });

  it('a document that is not a mapping is refused at line 1', () => {
    const problem = fileProblem(onlyProblem(() => resolveText('- a\n- b\n')));
    assert.deepEqual([problem.line, problem.column, problem.key], [1, 1, '']);
  });

  it('an empty file and an empty section mean the defaults', () => {
    assert.deepEqual(resolveText('').config, CONFIG_DEFAULTS);
    assert.deepEqual(resolveText('# nothing yet\ndiscovery:\n  tcp:\n').config, CONFIG_DEFAULTS);
  });

  it('an unknown key is refused even when it is empty', () => {
    const problem = onlyProblem(() => resolveText('discovery:\n  tpc:\n'));
    assert.equal(problem.key, 'discovery.tpc');
  });

  it('a mistake in the file is reported even when the environment overrides that key', () => {
    const problem = onlyProblem(() => resolveText('http:\n  port: high\n', { TETHER_HTTP__PORT: '9000' }));
    assert.equal(problem.source, 'file');
  });
});

describe('the file itself', () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    files = await tempDir();
  });
  after(() => files.remove());

  it('a missing file given explicitly is TETHER_CONFIG_NOT_FOUND', async () => {
    const { dir } = files;
    await assert.rejects(loadConfig({ file: `${dir}/absent.yaml`, env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigNotFoundError);
      assert.equal(error.code, 'TETHER_CONFIG_NOT_FOUND');
      assert.equal(error.detail.reason, 'ENOENT');
      return true;
    });
  });

  it('TETHER_CONFIG names the file when no file is given', async () => {
    const path = await files.write('from-env.yaml', 'http:\n  port: 9100\n');
    const { config, sources } = await loadConfig({ env: { TETHER_CONFIG: path } });
    assert.equal(config.http.port, 9100);
    assert.equal(sources.file, path);
  });

  it('an explicit file wins over TETHER_CONFIG', async () => {
    const { write } = files;
    const named = await write('named.yaml', 'http:\n  port: 9200\n');
    const fromEnv = await write('other.yaml', 'http:\n  port: 9300\n');
    const { config } = await loadConfig({ file: named, env: { TETHER_CONFIG: fromEnv } });
    assert.equal(config.http.port, 9200);
  });

  it('problems in a loaded file carry the path it was given by', async () => {
    const path = await files.write('bad.yaml', 'http:\n  prot: 1\n');
    await assert.rejects(loadConfig({ file: path, env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems[0], {
        source: 'file',
        file: path,
        line: 2,
        column: 3,
        key: 'http.prot',
        message: 'unknown key (did you mean "port"?)',
      });
      return true;
    });
  });
});

describe('configuration errors across a thread boundary', () => {
  let rebuilt: Error;
  before(() => {
    rebuilt = deserializeError(
      structuredClone(serializeError(catchConfigError(() => resolveText('x: 1\n')))),
    );
  });

  it('a ConfigError is rebuilt as a ConfigError with its problems', () => {
    assert.ok(rebuilt instanceof ConfigError);
    assert.equal(rebuilt.code, 'TETHER_CONFIG_INVALID');
    assert.equal(rebuilt.problems[0]?.key, 'x');
  });
});

function catchConfigError(body: () => unknown): ConfigError {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('text fields in the file', () => {
  it('an unquoted device id of digits is kept as written, leading zeros and all', () => {
    const { config } = resolveText(
      'device:\n  id: 000000000000000000000001\nsimulator:\n  deviceId: 123456789012345678901234\n',
    );
    assert.equal(config.device.id, '000000000000000000000001');
    assert.equal(config.simulator.deviceId, '123456789012345678901234');
  });

  it('a number where a number belongs is still a number', () => {
    assert.equal(resolveText('http:\n  port: 9000\n').config.http.port, 9000);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  runConfigCheck,
  runConfigPrint,
  runConfigSchema,
  type ConfigCommandIo,
} from '../../cli/config-command.js';
import { BILLION_LAUGHS, EXAMPLE_FILE, tempDir } from './helpers.js';

/** A dedicated entry with only the config command (test/config/cli-entry.ts), so these tests need nothing else wired. */
const ENTRY = fileURLToPath(new URL('./cli-entry.js', import.meta.url));
const TETHER = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const wired = existsSync(TETHER) && readFileSync(TETHER, 'utf8').includes('registerConfigCommand');

function run(entry: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  // A clean environment: a stray TETHER_ variable in the test runner's must not change the outcome.
  const result = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    // A command that hangs (a regression) fails its test instead of blocking the run.
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function capture(env: NodeJS.ProcessEnv = {}): ConfigCommandIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env,
    stdout: (text: string) => {
      io.out += text;
    },
    stderr: (text: string) => {
      io.err += text;
    },
  };
  return io;
}

describe('tether config (as a process)', () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  let good: string;
  let bad: string;
  before(async () => {
    files = await tempDir();
    good = await files.write('good.yaml', 'discovery:\n  mode: tcp\n');
    bad = await files.write('bad.yaml', 'discovery:\n  mode: tcp\n  moed: usb\n');
  });
  after(() => files.remove());

  it('config check exits 78 for a bad file and prints its problems on stderr', () => {
    const { code, stdout, stderr } = run(ENTRY, ['config', 'check', bad]);
    assert.equal(code, 78);
    assert.equal(stdout, '');
    assert.ok(stderr.startsWith(`${bad}:3:3: discovery.moed: `), stderr);
  });

  it('config check prints ok and exits 0 for a good file', () => {
    const { code, stdout } = run(ENTRY, ['config', 'check', good]);
    assert.equal(code, 0);
    assert.equal(stdout, 'ok\n');
  });

  it('config check exits 78 for a file that does not exist', () => {
    assert.equal(run(ENTRY, ['config', 'check', `${files.dir}/absent.yaml`]).code, 78);
  });

  it('config check validates the example file', () => {
    assert.equal(run(ENTRY, ['config', 'check', EXAMPLE_FILE]).code, 0);
  });

  it('config schema prints JSON with properties.discovery', () => {
    const { code, stdout } = run(ENTRY, ['config', 'schema']);
    assert.equal(code, 0);
    const schema = JSON.parse(stdout) as { properties?: Record<string, unknown> };
    assert.ok(schema.properties?.discovery);
  });

  it('config print prints the merged configuration as YAML: file under environment', () => {
    const { code, stdout } = run(ENTRY, ['config', 'print', '--config', good], { TETHER_HTTP__PORT: '9001' });
    assert.equal(code, 0);
    const printed = parse(stdout) as { discovery: { mode: string }; http: { port: number } };
    assert.equal(printed.discovery.mode, 'tcp');
    assert.equal(printed.http.port, 9001);
  });

  it('config print shows the token and passwords as <redacted>, in every format, unless --show-secrets', () => {
    const env = {
      TETHER_HTTP__TOKEN: 'tok-s3cret',
      TETHER_MQTT__PASSWORD: 'pw-s3cret',
      TETHER_MQTT__URL: 'mqtt://user:url-s3cret@broker.example:1883',
    };
    for (const format of [[], ['--json'], ['--origins']]) {
      const { code, stdout } = run(ENTRY, ['config', 'print', ...format], env);
      assert.equal(code, 0);
      assert.doesNotMatch(stdout, /s3cret/, `config print ${format.join(' ')}`);
      assert.match(stdout, /<redacted>/);
    }
    const printed = parse(run(ENTRY, ['config', 'print'], env).stdout) as {
      http: { token: string };
      mqtt: { password: string; url: string };
    };
    assert.equal(printed.http.token, '<redacted>');
    assert.equal(printed.mqtt.url, 'mqtt://user:<redacted>@broker.example:1883');
    const shown = parse(run(ENTRY, ['config', 'print', '--show-secrets'], env).stdout) as typeof printed;
    assert.equal(shown.http.token, 'tok-s3cret');
    assert.equal(shown.mqtt.password, 'pw-s3cret');
    assert.equal(shown.mqtt.url, env.TETHER_MQTT__URL);
  });

  it('config print exits 78 for an unknown TETHER_ variable', () => {
    const { code, stderr } = run(ENTRY, ['config', 'print'], { TETHER_HTTP__PROT: '1' });
    assert.equal(code, 78);
    assert.match(stderr, /^TETHER_HTTP__PROT: /);
  });

  it('config check exits 78 at the line and column of an alias bomb, with no stack trace', async () => {
    const bomb = await files.write('bomb.yaml', `${BILLION_LAUGHS}\n`);
    const { code, stderr } = run(ENTRY, ['config', 'check', bomb]);
    assert.equal(code, 78, stderr);
    assert.ok(stderr.startsWith(`${bomb}:2:8: b[0]: `), stderr);
    assert.doesNotMatch(stderr, /^\s+at /m);
  });

  it('config print exits 78 naming the variable that holds an alias bomb', () => {
    const flow = `{${BILLION_LAUGHS.split('\n').join(', ')}}`;
    const { code, stderr } = run(ENTRY, ['config', 'print'], { TETHER_SUPERVISION: flow });
    assert.equal(code, 78, stderr);
    assert.match(stderr, /^TETHER_SUPERVISION: /);
    assert.doesNotMatch(stderr, /^\s+at /m);
  });

  it('config check applies the rules run applies: http.host 0.0.0.0 without a token is refused at its line', async () => {
    const exposed = await files.write('exposed.yaml', 'http:\n  host: 0.0.0.0\n');
    const alone = run(ENTRY, ['config', 'check', exposed], { TETHER_HTTP__TOKEN: 'sesame' });
    assert.equal(alone.code, 78, alone.stderr);
    assert.ok(alone.stderr.startsWith(`${exposed}:2:3: http.host: `), alone.stderr);
    // With the environment the service would have, the token is there.
    const withEnv = run(ENTRY, ['config', 'check', '--env', exposed], { TETHER_HTTP__TOKEN: 'sesame' });
    assert.equal(withEnv.code, 0, withEnv.stderr);
  });

  it('config check exits 78 for a token with a space, at the token’s line and column, without repeating it', async () => {
    const spaced = await files.write('spaced.yaml', 'http:\n  token: "hunter2 secret"\n');
    const { code, stderr } = run(ENTRY, ['config', 'check', spaced]);
    assert.equal(code, 78, stderr);
    assert.ok(stderr.startsWith(`${spaced}:2:3: http.token: `), stderr);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it('config check refuses a 50 MB file (of unknown keys) by its size, at once', async () => {
    const huge = join(files.dir, 'huge.yaml');
    const handle = await open(huge, 'w');
    const chunk = Array.from({ length: 100_000 }, (_, i) => `key${i}: ${i}\n`).join('');
    for (let written = 0; written < 50 * 1024 * 1024; written += Buffer.byteLength(chunk)) {
      await handle.write(chunk);
    }
    await handle.close();
    const started = performance.now();
    const { code, stderr } = run(ENTRY, ['config', 'check', huge]);
    assert.equal(code, 78, stderr);
    assert.ok(stderr.startsWith(`${huge}:1:1: `), stderr);
    assert.ok(performance.now() - started < 20_000);
  });

  it(
    'the tether program runs config check once the command is wired in',
    { skip: !wired && 'not wired into cli/tether.ts yet' },
    () => {
      assert.equal(run(TETHER, ['config', 'check', bad]).code, 78);
      assert.equal(run(TETHER, ['config', 'check', good]).code, 0);
    },
  );
});

describe('tether config (action functions)', () => {
  it('check ignores the environment unless asked, and validates it with --env', async () => {
    const env = { TETHER_HTTP__PORT: 'x' };
    assert.equal(await runConfigCheck(EXAMPLE_FILE, {}, capture(env)), 0);
    const io = capture(env);
    assert.equal(await runConfigCheck(EXAMPLE_FILE, { withEnv: true }, io), 78);
    assert.match(io.err, /^TETHER_HTTP__PORT: http\.port: /);
  });

  it('print --origins marks each value with where it came from', async () => {
    const io = capture({ TETHER_LOG__LEVEL: 'debug' });
    assert.equal(await runConfigPrint({ origins: true }, io), 0);
    assert.match(io.out, /level: debug # from TETHER_LOG__LEVEL/);
  });

  it('print --json prints JSON that parses to the configuration', async () => {
    const io = capture();
    assert.equal(await runConfigPrint({ json: true }, io), 0);
    assert.equal((JSON.parse(io.out) as { http: { port: number } }).http.port, 8331);
  });

  it('schema returns 0 and prints one JSON document', () => {
    const io = capture();
    assert.equal(runConfigSchema(io), 0);
    assert.doesNotThrow(() => JSON.parse(io.out));
  });
});

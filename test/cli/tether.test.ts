/**
 * The `tether` command as a person meets it: its version, the demo that ends
 * by itself, the log format chosen by where stdout goes (a pipe, or a real
 * terminal made by `script`), and the commands the example configuration
 * tells people to run.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOMY_START_ENV, startRecorded as start, type RecordedRun as Run } from '../e2e/tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const ROOT = new URL('../../../', import.meta.url);

const tether = (args: string[], env?: Record<string, string>): Run =>
  start(process.execPath, [CLI, ...args], env);

/** `tether` with stdout on a real terminal: util-linux `script` runs it on a new pty. */
function tetherOnTerminal(args: string[], env?: Record<string, string>): Run {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return start('script', ['--quiet', '--flush', '--return', '--command', quoted, '/dev/null'], env);
}

function withinDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

// eslint-disable-next-line no-control-regex
const stripColour = (line: string): string => line.replace(/\u001b\[[0-9;]*m/g, '');
const READABLE = /^\d\d:\d\d:\d\d\.\d{3} +(TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /;
const isJson = (line: string): boolean => {
  try {
    return typeof (JSON.parse(line) as { level?: unknown }).level === 'number';
  } catch {
    return false;
  }
};

describe('tether', () => {
  it('--version prints the version from package.json and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const run = tether([flag]);
      assert.equal(await withinDeadline(run.code, 10_000, 'exit'), 0);
      assert.deepEqual(run.lines, [version]);
    }
  });

  it('the demo ends by itself with exit 0, saying so first, and writes JSON lines into a pipe', async () => {
    // 4 s: the first mischief (a crash, at 300 ms) has seconds to show in the log before the demo
    // stops, however loaded the machine (1.5 s left it 1.2 s).
    const run = tether(['demo', '--interval', '300', '--duration', '4000']);
    assert.equal(await withinDeadline(run.code, 30_000, 'the demo to end by itself'), 0);
    assert.ok(run.lines.length > 0 && run.lines.every(isJson), run.lines.join('\n'));
    const messages = run.lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.ok(
      messages.some((m) => /stops by itself after 4 s/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => m.startsWith('child-exited second: crash')),
      'it broke something',
    );
    assert.equal(messages.at(-1), 'demo stopped');
  });

  it('the demo stops sooner on Ctrl+C (SIGINT) and exits 0', async () => {
    const run = tether(['demo', '--interval', '300', '--duration', '600000']);
    // The handlers are set before that line is written: a SIGINT sent on it is handled.
    await run.waitForLine(/Ctrl\+C stops it sooner/, 20_000);
    run.kill('SIGINT');
    assert.equal(await withinDeadline(run.code, 20_000, 'exit after SIGINT'), 0);
    assert.match(run.lines.at(-1) ?? '', /"demo stopped"/);
  });

  it('on a terminal the demo prints a readable, coloured line per event, and --log-format json still gives JSON', async () => {
    const pretty = tetherOnTerminal(['demo', '--interval', '300', '--duration', '1200']);
    assert.equal(await withinDeadline(pretty.code, 30_000, 'the demo to end'), 0);
    assert.ok(pretty.lines.length > 0, 'output on the terminal');
    for (const line of pretty.lines) assert.match(stripColour(line), READABLE);
    assert.ok(
      pretty.lines.some((l) => l.includes('\u001b[')),
      'colours on a terminal',
    );
    assert.ok(
      pretty.lines.some((l) => /^\S+ +INFO: \[pair\] child-exited second: crash/.test(stripColour(l))),
    );

    const json = tetherOnTerminal(['demo', '--interval', '300', '--duration', '600', '--log-format', 'json']);
    assert.equal(await withinDeadline(json.code, 30_000, 'the demo to end'), 0);
    assert.ok(json.lines.length > 0 && json.lines.every(isJson), json.lines.join('\n'));
  });

  it('tether run --log-format pretty into a pipe writes readable lines without colours, phase transitions marked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-cli-'));
    try {
      const run = tether(['run', '--sim-if-unconfigured', '--log-format', 'pretty'], {
        ...ROOMY_START_ENV,
        TETHER_STATE_DIR: dir,
      });
      await run.waitForLine(/ INFO: ==> phase Acknowledged -> Synchronized \(synchronized\)/, 20_000);
      run.kill('SIGTERM');
      assert.equal(await withinDeadline(run.code, 15_000, 'exit after SIGTERM'), 0);
      assert.ok(
        run.lines.every((l) => READABLE.test(l) && !l.includes('\u001b')),
        run.lines.join('\n'),
      );
      assert.ok(
        run.lines.some((l) => / INFO: \[connection\] connected {2}address=tcp:\/\/127\.0\.0\.1:\d+/.test(l)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every tether command shown in tether.example.yaml exists and takes the options shown', async () => {
    const example = await readFile(new URL('tether.example.yaml', ROOT), 'utf8');
    const commands = [...example.matchAll(/^#\s{2,}(?:\S+=\S+\s+)?tether ([^\n(]+)/gm)].map((m) =>
      (m[1] ?? '').replace(/\s{2,}.*$/, '').trim(),
    );
    assert.ok(commands.length >= 4, `commands found: ${commands.join(' | ')}`);
    assert.ok(commands.includes('run --config FILE'), 'the service is started with tether run --config FILE');
    for (const command of commands) {
      const words = command.split(/\s+/).filter((w) => w !== '>' && !w.includes('.'));
      const subcommands = words.filter((w) => /^[a-z]+$/.test(w));
      const options = words.filter((w) => w.startsWith('-'));
      const help = tether([...subcommands, '--help']);
      assert.equal(
        await withinDeadline(help.code, 10_000, `tether ${subcommands.join(' ')} --help`),
        0,
        command,
      );
      const text = help.lines.join('\n');
      assert.match(
        text,
        new RegExp(`^Usage: tether ${subcommands.join(' ')}`, 'm'),
        `tether ${command} is a command`,
      );
      for (const option of options)
        assert.ok(text.includes(option), `tether ${command}: ${option} is an option`);
    }
  });
});

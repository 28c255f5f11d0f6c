/**
 * `tether run` and the command line around it, as real processes: a
 * command line commander cannot read exits 78 like every other
 * configuration error (the systemd unit does not restart on 78), and
 * `--tcp` takes IPv6 literals in brackets.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../../sim/index.js';
import { ROOMY_START_ENV } from '../e2e/tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  // No test here needs a process for long: one that is still there after 20 s is killed (and fails).
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const finished = once(child, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, ...output };
  });
  return { child, finished: finished as Promise<Finished> };
}

describe('tether: the command line', () => {
  it('an unknown option, an option without its value or an unknown command exits 78; help exits 0', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tether-cli-'));
    try {
      const cases: Array<[string[], number]> = [
        [['run', '--no-such-flag'], 78],
        [['run', '--state-dir', stateDir, '--tcp'], 78],
        [['run', '--config'], 78],
        [['status', '--url'], 78],
        [['config', 'check'], 78],
        [['frobnicate'], 78],
        [['--help'], 0],
        [['run', '--help'], 0],
      ];
      for (const [args, expected] of cases) {
        const { code, stderr } = await start(args).finished;
        assert.equal(code, expected, `tether ${args.join(' ')}: ${stderr}`);
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('--tcp that is not host[:port] exits 78 naming the flag', async () => {
    for (const tcp of ['[::1', '::1:8332x', 'host:port']) {
      const { code, stderr } = await start(['run', '--discovery', 'tcp', '--tcp', tcp]).finished;
      assert.equal(code, 78, `--tcp ${tcp}: ${stderr}`);
      assert.match(stderr, /^flags: discovery\.tcp: --tcp: /m);
    }
  });

  it('an mqtt.caFile that is not a readable CA file exits 78 naming the key, before anything starts', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tether-cli-'));
    try {
      for (const caFile of [stateDir, join(stateDir, 'absent.pem')]) {
        const { code, stderr } = await start(['run', '--state-dir', stateDir], {
          TETHER_MQTT__URL: 'mqtts://127.0.0.1:8883',
          TETHER_MQTT__CA_FILE: caFile,
        }).finished;
        assert.equal(code, 78, `caFile ${caFile}: ${stderr}`);
        assert.match(stderr, /^TETHER_MQTT__CA_FILE: mqtt\.caFile: /m);
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it("--tcp '[::1]:PORT' reaches a controller listening on IPv6 loopback", async () => {
    const sim = await startSimulator({ host: '::1', port: 0 });
    const stateDir = await mkdtemp(join(tmpdir(), 'tether-cli-'));
    try {
      let seen: () => void = () => undefined;
      const firstRequest = new Promise<void>((resolve) => (seen = resolve));
      const off = sim.onRequest(() => seen());
      const { child, finished } = start(
        ['run', '--discovery', 'tcp', '--tcp', `[::1]:${sim.address?.port}`, '--state-dir', stateDir],
        { TETHER_HTTP__PORT: '0', TETHER_LOG__LEVEL: 'warn', ...ROOMY_START_ENV },
      );
      let talked = false;
      const early = finished.then((f) => {
        if (!talked)
          throw new Error(`tether run exited ${f.code} before talking to the controller: ${f.stderr}`);
      });
      await Promise.race([firstRequest, early]);
      talked = true;
      off();
      child.kill('SIGTERM');
      const { code, stderr } = await finished;
      assert.equal(code, 0, stderr);
    } finally {
      await sim.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

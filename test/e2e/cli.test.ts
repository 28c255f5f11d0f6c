/**
 * `tether run` as a user runs it: a real process, its exit codes, its log.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOMY_START_ENV, startRecorded, type RecordedRun } from './tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

function runTether(args: string[], env: Record<string, string>): RecordedRun {
  return startRecorded(process.execPath, [CLI, ...args], { ...ROOMY_START_ENV, ...env });
}

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-cli-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fails the test instead of hanging when a process does not exit. */
function withinDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('tether run', () => {
  it('runs against the built-in simulator, logs each phase, and exits 0 on SIGTERM', () =>
    withTempDir(async (dir) => {
      const run = runTether(['run', '--sim-if-unconfigured'], { TETHER_STATE_DIR: dir });
      await run.waitForLine(/phase Acknowledged -> Synchronized/, 20_000);
      run.kill('SIGTERM');
      assert.equal(await withinDeadline(run.code, 15_000, 'exit after SIGTERM'), 0);
    }));

  it('exits 78 with file, line, column and key for an invalid configuration', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'tether.yaml');
      await writeFile(file, 'discovery:\n  mode: bluetooth\n');
      const run = runTether(['run', '--config', file], {});
      assert.equal(await withinDeadline(run.code, 15_000, 'exit'), 78);
      assert.ok(
        run.lines.some((l) => l.includes(`${file}:2:3`) && l.includes('discovery.mode')),
        run.lines.join('\n'),
      );
    }));

  it('USB discovery that finds nothing exits 75 under rediscovery policy always', () =>
    withTempDir(async (dir) => {
      const run = runTether(['run', '--discovery', 'usb'], {
        TETHER_STATE_DIR: dir,
        TETHER_DISCOVERY__REDISCOVERY: 'always',
        TETHER_DISCOVERY__USB__GIVE_UP_MS: '1000',
        TETHER_DISCOVERY__INTERVAL_MS: '200',
      });
      assert.equal(await withinDeadline(run.code, 20_000, 'exit 75'), 75);
    }));

  it('USB discovery that finds nothing keeps trying under rediscovery policy never', () =>
    withTempDir(async (dir) => {
      const run = runTether(['run', '--discovery', 'usb'], {
        TETHER_STATE_DIR: dir,
        TETHER_DISCOVERY__REDISCOVERY: 'never',
        TETHER_DISCOVERY__USB__GIVE_UP_MS: '500',
        TETHER_DISCOVERY__INTERVAL_MS: '200',
      });
      await run.waitForLine(/rediscovery policy keeps the process running/, 15_000);
      run.kill('SIGTERM');
      assert.equal(await withinDeadline(run.code, 15_000, 'exit after SIGTERM'), 0);
    }));
});

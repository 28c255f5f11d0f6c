/**
 * The compose file runs the service on a read-only root filesystem with only
 * the state volume writable. This checks that it works, for real: `tether
 * run` in a mount namespace of its own (unshare) where every filesystem is
 * remounted read-only, /tmp included, and only the state directory is
 * writable. Needs root (CI and this machine run as root); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOMY_START_ENV, startRecorded, type RecordedRun } from '../e2e/tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A shell script for `unshare --mount`: every mount but /proc, /sys and /dev
 * read-only, then the state directory bound writable, then the command.
 */
function readOnlyRootScript(stateDir: string): string {
  return [
    'set -e',
    'mount --make-rprivate /',
    // Longest paths last does not matter for remounts; skip the kernel's own filesystems.
    `awk '{print $2}' /proc/self/mounts | grep -Ev '^/(proc|sys|dev)(/|$)' | while read -r m; do`,
    '  mount -o remount,bind,ro "$m" 2>/dev/null || true',
    'done',
    // The proof that the remount took: /tmp is not writable.
    'if touch /tmp/.tether-rw-probe 2>/dev/null; then echo "ROOT STILL WRITABLE"; exit 99; fi',
    `mount --bind '${stateDir}' '${stateDir}'`,
    `mount -o remount,bind,rw '${stateDir}'`,
    'exec "$@"',
  ].join('\n');
}

function runReadOnly(stateDir: string, args: string[], env: Record<string, string>): RecordedRun {
  return startRecorded(
    'unshare',
    ['--mount', 'sh', '-c', readOnlyRootScript(stateDir), 'sh', process.execPath, CLI, ...args],
    { TETHER_STATE_DIR: stateDir, ...ROOMY_START_ENV, ...env },
  );
}

function withinDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

async function withStateDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-ro-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const skip = isRoot ? false : 'needs root for a mount namespace (unshare --mount)';

describe('a read-only root filesystem with only the state directory writable', { skip }, () => {
  it('the service starts, synchronizes with the simulator and stops cleanly', () =>
    withStateDir(async (dir) => {
      const run = runReadOnly(dir, ['run', '--sim-if-unconfigured'], {});
      await run.waitForLine(/phase Acknowledged -> Synchronized/, 30_000);
      run.kill('SIGTERM');
      assert.equal(await withinDeadline(run.code, 15_000, 'exit after SIGTERM'), 0, run.lines.join('\n'));
      assert.ok(!run.lines.some((l) => /EROFS|read-only file system/i.test(l)), run.lines.join('\n'));
    }));

  it('its state is written in the state directory: the rediscovery record of an exit 75', () =>
    withStateDir(async (dir) => {
      const run = runReadOnly(dir, ['run', '--discovery', 'usb'], {
        TETHER_DISCOVERY__REDISCOVERY: 'always',
        TETHER_DISCOVERY__USB__GIVE_UP_MS: '500',
        TETHER_DISCOVERY__INTERVAL_MS: '200',
      });
      assert.equal(await withinDeadline(run.code, 30_000, 'exit 75'), 75, run.lines.join('\n'));
      assert.ok((await readdir(dir)).includes('rediscovery.json'), run.lines.join('\n'));
    }));
});

/**
 * `tether backup`, `reboot`, `task` and `block` as a user runs them: the
 * real CLI process against the real service and simulator. Exit codes say
 * how the task ended; progress is plain lines when stderr is not a
 * terminal, a bar redrawn in place when it is; Ctrl+C aborts the task.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { backupSave } from '../../cli/task-command.js';
import type { TaskIo } from '../../cli/task-command.js';
import { withApi } from '../http/fixture.js';
import { Recorder } from '../recorder.js';
import { backupText } from '../kernel/task-helpers.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStderr` sees its error output as it comes (to act in the middle). */
async function runCli(
  args: string[],
  onStderr?: (seen: Recorder<string>, child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const seen = new Recorder<string>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    seen.push(chunk);
  });
  onStderr?.(seen, child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-cli-tasks-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('task commands', () => {
  it('backup save writes the file, backup load loads it, reboot ends 0; plain progress lines off a terminal', () =>
    withDir((dir) =>
      withApi(async ({ phases, call, api }) => {
        await phases.waitFor('Synchronized');
        const url = api.address.url;
        const created = await runCli([
          'block',
          'create',
          'TempSensor',
          '--name',
          'fridge',
          '--data',
          '{"value":4}',
          '--url',
          url,
        ]);
        assert.equal(created.code, 0, created.stderr);
        assert.equal((JSON.parse(created.stdout) as { block: { name: string } }).block.name, 'fridge');
        const file = join(dir, 'fridge.json');
        const saved = await runCli(['backup', 'save', file, '--url', url]);
        assert.equal(saved.code, 0, saved.stderr);
        // The CLI polls, so a one-block save may finish between two polls:
        // which states show is timing; that each is one plain line, ending
        // COMPLETED, is not. (Seeing IN_PROGRESS is the abort test's job,
        // whose 3,000-block load is long enough to be seen.)
        assert.doesNotMatch(saved.stderr, /\r/);
        const progressLines = saved.stderr.trimEnd().split('\n');
        for (const line of progressLines) {
          assert.match(line, /^backup\.save (STAGING|QUEUED|IN_PROGRESS|COMPLETED) \d+%/);
        }
        assert.match(progressLines.at(-1) ?? '', /^backup\.save COMPLETED 100%/);
        const text = await readFile(file, 'utf8');
        assert.equal((JSON.parse(text) as { blocks: Array<{ name: string }> }).blocks[0]?.name, 'fridge');

        await call('DELETE', '/api/blocks');
        const loaded = await runCli(['backup', 'load', file, '--url', url]);
        assert.equal(loaded.code, 0, loaded.stderr);
        const read = await runCli(['block', 'read', 'fridge', '--url', url]);
        assert.equal(read.code, 0, read.stderr);

        const rebooted = await runCli(['reboot', '--url', url, '--json']);
        assert.equal(rebooted.code, 0, rebooted.stderr);
        assert.equal((JSON.parse(rebooted.stdout) as { status: string }).status, 'COMPLETED');
        const listed = await runCli(['task', 'list', '--url', url]);
        assert.equal(listed.code, 0);
        assert.match(listed.stdout, /reboot +COMPLETED/);
      }),
    ));

  it('exit codes: 1 for FAILED, 2 for REJECTED, 3 for ABORTED by Ctrl+C, 69 for no service', () =>
    withDir((dir) =>
      withApi(
        async ({ phases, call, api }) => {
          await phases.waitFor('Synchronized');
          const url = api.address.url;
          const other = join(dir, 'other.json');
          await writeFile(other, backupText(2, { deviceId: 'abcdefabcdefabcdefabcdef' }));
          const failed = await runCli(['backup', 'load', other, '--url', url]);
          assert.equal(failed.code, 1);
          assert.match(failed.stderr, /FAILED: TETHER_BACKUP_WRONG_DEVICE/);

          // At 10 ms an answer, 3,000 blocks take at least 30 s: the load is still running when
          // Ctrl+C comes, however late the CLI's poll shows it under way (300 blocks left it 3 s).
          const big = join(dir, 'big.json');
          await writeFile(big, backupText(3000));
          const aborted = await runCli(['backup', 'load', big, '--url', url], (seen, child) => {
            void seen
              .waitFor((chunk) => /IN_PROGRESS [1-9]\d*%/.test(chunk), {
                timeoutMs: 30_000,
                what: 'progress',
                summary: () => '',
              })
              .then(
                () => child.kill('SIGINT'),
                () => child.kill('SIGKILL'),
              );
          });
          assert.equal(aborted.code, 3, aborted.stderr);
          assert.match(aborted.stderr, /ABORTED/);

          await call('PUT', '/api/autoconnecting', { body: { enabled: false } });
          const rejected = await runCli(['reboot', '--url', url]);
          assert.equal(rejected.code, 2);
          assert.match(rejected.stderr, /REJECTED: TETHER_AUTOCONNECT_OFF/);

          const nobody = await runCli(['task', 'list', '--url', 'http://127.0.0.1:9']);
          assert.equal(nobody.code, 69);
        },
        { sim: { capacity: 3100, faults: { responseDelayMs: 10 } } },
      ),
    ));

  it('on a terminal the progress is one bar redrawn in place, its text escaped', () =>
    withDir((dir) =>
      withApi(async ({ phases, api }) => {
        await phases.waitFor('Synchronized');
        let err = '';
        const io: TaskIo = {
          stdout: () => {},
          stderr: (text) => (err += text),
          env: {},
          tty: true,
          interrupted: () => () => {},
        };
        const code = await backupSave(join(dir, 'tty.json'), { url: api.address.url }, io);
        assert.equal(code, 0);
        assert.match(err, /\r\u001b\[2K\[#*\.*\] +\d+% /); // eslint-disable-line no-control-regex
        assert.match(err, /\[#{20}\] 100% COMPLETED/);
      }),
    ));
});

/**
 * The task journal as a real state file: a task unfinished when the process
 * ended is reported FAILED (service restarted) by the next process's
 * tracker, and a journal file that is not one is set aside, not trusted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CommandTracker, FileTaskJournal, JOURNAL_FILE, LocalExecutor } from '../../tasks/index.js';
import type { TaskKindSpec, TaskView } from '../../tasks/index.js';

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-journal-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const never = new LocalExecutor({ work: () => new Promise(() => {}) });
const kinds: TaskKindSpec[] = [
  { kind: 'work', executor: never, exclusive: false, timeoutMs: 60_000, parseArgs: (a) => a },
];

describe('task journal', () => {
  it('a task unfinished when the process ended is FAILED: service restarted after the next start', () =>
    withDir(async (dir) => {
      const first = new FileTaskJournal(dir);
      const before = new CommandTracker({ kinds, journal: first });
      const task = before.submit('work', null);
      await Promise.resolve(); // the tracker saves once per turn
      await first.flush();
      const onDisk = JSON.parse(await readFile(join(dir, JOURNAL_FILE), 'utf8')) as {
        tasks: Array<{ id: string }>;
      };
      assert.deepEqual(
        onDisk.tasks.map((t) => t.id),
        [task.id],
      );
      // The process ends here with the task still running; the next one starts.
      const second = new FileTaskJournal(dir);
      const after = new CommandTracker({ kinds, journal: second });
      const recovered = await after.recover();
      assert.deepEqual(
        recovered.map((t) => t.id),
        [task.id],
      );
      const view = after.get(task.id) as TaskView;
      assert.equal(view.status, 'FAILED');
      assert.equal(view.problem?.code, 'TETHER_SERVICE_RESTARTED');
      await Promise.resolve();
      await second.flush();
      assert.deepEqual(
        (JSON.parse(await readFile(join(dir, JOURNAL_FILE), 'utf8')) as { tasks: unknown[] }).tasks,
        [],
      );
      await before.close(10);
    }));

  it('a journal that is not one is set aside and counts as no unfinished task', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, JOURNAL_FILE), '{"format":1,"tasks":[{"id":7}]}');
      const tracker = new CommandTracker({ kinds, journal: new FileTaskJournal(dir) });
      assert.deepEqual(await tracker.recover(), []);
      assert.ok((await readdir(dir)).some((name) => name.startsWith(`${JOURNAL_FILE}.corrupt-`)));
    }));
});

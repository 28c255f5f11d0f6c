/**
 * The service's supervision tree from its configuration: the task pool child
 * is sized from the YAML's tasks.pool, and a bad value there is a
 * configuration error naming its key, before any tree starts. The pool has a
 * supervisor of its own: its failures never reach the device link.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../config/index.js';
import { TASKS_SUPERVISOR_ID, TASK_POOL_ID, serviceTree } from '../../kernel/tree.js';
import { PoolStoppedError } from '../../runtime/index.js';
import type { TaskView } from '../../tasks/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { PoolChildSpec } from '../../supervisors/index.js';
import { onlyProblem } from '../config/helpers.js';
import { withService } from '../e2e/harness.js';
import { EventLog, withDeadline } from '../helpers.js';

const YAML = [
  'tasks:',
  '  pool:',
  '    maxThreads: 3',
  '    maxQueue: 7',
  '    idleTimeoutMs: 1500',
  '    memoryLimitMb: 256',
  '    niceIncrement: 5',
  '',
].join('\n');

describe('the service tree', () => {
  it('has a task pool child sized from tasks.pool in the YAML file, a valid child spec', () => {
    const tree = serviceTree(checkConfigText('tether.yaml', YAML));
    const tasks = tree.children.find((child) => child.id === TASKS_SUPERVISOR_ID);
    assert.equal(tasks?.kind, 'supervisor');
    const pool = (tasks as { children: PoolChildSpec[] }).children.find((child) => child.id === TASK_POOL_ID);
    assert.ok(pool !== undefined);
    assert.equal(pool.kind, 'pool');
    assert.deepEqual(pool.threads, { min: 0, max: 3 });
    assert.equal(pool.maxQueue, 7);
    assert.equal(pool.idleTimeoutMs, 1500);
    assert.deepEqual(pool.resourceLimits, { maxOldGenerationSizeMb: 256 });
    assert.equal(pool.niceIncrement, 5);
    assert.equal(Supervisor.checkChildSpecs(tree.children), undefined);
  });

  it('a bad tasks.pool.maxQueue is a configuration error naming its key, line and column', () => {
    const problem = onlyProblem(() => checkConfigText('tether.yaml', 'tasks:\n  pool:\n    maxQueue: -1\n'));
    assert.deepEqual(problem.source === 'file' ? [problem.key, problem.line, problem.column] : problem, [
      'tasks.pool.maxQueue',
      3,
      5,
    ]);
  });
});

describe('the task pool under its own supervisor', () => {
  it('a task pool that keeps failing backs off under its own supervisor: the link stays Synchronized, its generation and the device actors unchanged, and tasks are refused (REJECTED) at once while it is down', () =>
    withService(
      async ({ service, phases }) => {
        await phases.waitFor('Synchronized');
        const synchronized = service.kernel.state.phase;
        const mark = phases.mark();
        const log = new EventLog(service.root.events);
        const pool = service.system.pool(TASK_POOL_ID);
        // Real pool threads: a job runs before the failures.
        await service.tasks.backups.store('before.json', new TextEncoder().encode('{}'));
        assert.ok((pool.status()?.threads ?? 0) > 0, 'a pool thread runs');
        // One more failure than the root's intensity (3 in 5 s) allows: under the root, the whole tree
        // (the device link with it) would restart.
        let refused: unknown;
        let rejected: TaskView | undefined;
        for (let failure = 1; failure <= 4; failure += 1) {
          assert.equal(service.system.exit(TASK_POOL_ID, 'kill'), true);
          await log.waitFor('child-exited', (e) => e.childId === TASK_POOL_ID, 10_000, failure);
          if (failure === 3) {
            // The third restart in the period spends the tasks supervisor's intensity (2): it backs off.
            await log.waitFor('backoff', (e) => e.supervisor === TASKS_SUPERVISOR_ID && !('childId' in e));
            refused = await withDeadline(
              pool.run({}).catch((error: unknown) => error),
              1000,
              'a task while the pool is down',
            );
            // A tracked task that needs the pool is REJECTED at once, not queued to fail on its first job.
            rejected = service.tasks.tracker.submit('backup.validate', { name: 'before.json' });
          }
          await log.waitFor('child-started', (e) => e.childId === TASK_POOL_ID, 10_000, failure);
        }
        assert.ok(refused instanceof PoolStoppedError, `refused with ${String(refused)}`);
        assert.deepEqual([rejected?.status, rejected?.problem?.code], ['REJECTED', 'TETHER_POOL_STOPPED']);
        // Up again: the same task runs.
        const validated = service.tasks.tracker.submit('backup.validate', { name: 'before.json' });
        assert.equal(validated.status, 'QUEUED');
        // The pool is back and runs jobs again.
        await service.tasks.backups.store('after.json', new TextEncoder().encode('{}'));
        // Nothing else moved: no phase change, the same link generation, the device actors never restarted.
        assert.equal(phases.mark(), mark, 'no phase change');
        assert.equal(service.kernel.state.phase.generation, synchronized.generation);
        assert.equal(service.kernel.state.phase.name, 'Synchronized');
        for (const id of ['device', 'watchdog', TASKS_SUPERVISOR_ID]) {
          const child = service.root.whichChild(id);
          assert.deepEqual([id, child.status, child.incarnation, child.restarts], [id, 'running', 1, 0]);
        }
        assert.deepEqual(
          log.events.filter((e) => e.supervisor === service.root.id).map((e) => e.type),
          [],
          'the root saw nothing',
        );
      },
      {
        config: {
          supervision: {
            tasks: { intensity: 2, periodMs: 60_000, backoff: { minMs: 200, maxMs: 200, jitter: 0 } },
          },
        },
      },
    ));
});

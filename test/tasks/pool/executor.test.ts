/**
 * The pool executor on a real pool child (piscina threads): progress from the job
 * through a comlink-proxied callback into the tracker, errors that keep
 * their class and code, abort of a running and of a queued job, a worker
 * that crashes, timers inside a job, and a closed pool.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActorSystem } from '../../../runtime/index.js';
import { Supervisor } from '../../../supervisors/index.js';
import { CommandTracker, PoolExecutor } from '../../../tasks/index.js';
import type { TaskEvent, TaskKindSpec } from '../../../tasks/index.js';
import { POOL_JOBS_FIXTURE } from '../../fixtures/pool-jobs.js';
import { statusOf } from '../../kernel/task-helpers.js';
import { eventually, silentLogger } from '../../helpers.js';

const KINDS = ['test.progress', 'test.timer', 'test.spin', 'test.crash', 'test.fail'];

async function withPool(
  body: (tracker: CommandTracker, events: TaskEvent[], system: ActorSystem) => Promise<void>,
): Promise<void> {
  const system = new ActorSystem({ logger: silentLogger });
  const tree = new Supervisor(system, {
    id: 'tasks',
    children: [
      {
        id: 'pool',
        kind: 'pool',
        module: POOL_JOBS_FIXTURE,
        threads: { max: 1 },
        idleTimeoutMs: 10_000,
        resourceLimits: { maxOldGenerationSizeMb: 128 },
      },
    ],
  });
  await tree.start();
  const executor = new PoolExecutor(system.pool('pool'));
  const kinds: TaskKindSpec[] = KINDS.map((kind) => ({
    kind,
    executor,
    exclusive: false,
    parseArgs: (args) => args,
    timeoutMs: 30_000,
  }));
  const tracker = new CommandTracker({ kinds });
  const events: TaskEvent[] = [];
  tracker.subscribe((event) => events.push(event));
  try {
    await body(tracker, events, system);
  } finally {
    await tracker.close(100);
    await executor.close();
    await tree.stop();
    await system.shutdown();
  }
  assert.equal(system.census().pools, 0, 'a pool (and its threads) was left running');
}

/** The job has reported progress: it runs on a pool thread. */
function reported(events: readonly TaskEvent[], id: string): boolean {
  return events.some((e) => e.task.id === id && e.change === 'progress');
}

describe('pool executor', () => {
  it('a job’s awaited progress reaches the tracker through the port handed to it, then its result', () =>
    withPool(async (tracker, events) => {
      const task = tracker.submit('test.progress', null);
      const done = await statusOf(tracker, task.id, 'COMPLETED');
      assert.deepEqual(done.result, { checked: true });
      assert.deepEqual(
        events.map((e) =>
          e.change === 'status' ? e.task.status : `${e.task.progress.percent} ${e.task.progress.message}`,
        ),
        ['QUEUED', 'IN_PROGRESS', '40 validated', '80 hashed', 'COMPLETED'],
      );
    }));

  it('a job’s error keeps its code across the thread, and a timer inside a job fires', () =>
    withPool(async (tracker) => {
      const failed = await statusOf(tracker, tracker.submit('test.fail', null).id, 'FAILED');
      assert.equal(failed.problem?.code, 'TETHER_BACKUP_INVALID');
      const timer = await statusOf(tracker, tracker.submit('test.timer', null).id, 'COMPLETED');
      assert.equal(timer.result, 'fired');
    }));

  it('a running job that never yields is ABORTED within a second, and the pool runs the next job', () =>
    withPool(async (tracker, events) => {
      const spinning = tracker.submit('test.spin', null);
      const queued = tracker.submit('test.progress', null);
      await eventually(() => reported(events, spinning.id), 10_000, 'the spinning job reports progress');
      assert.equal((tracker.abort(queued.id) as { status: string }).status, 'ABORTED');
      const asked = performance.now();
      tracker.abort(spinning.id);
      await statusOf(tracker, spinning.id, 'ABORTED', 5000);
      assert.ok(
        performance.now() - asked < 1000,
        `ABORTED after ${Math.round(performance.now() - asked)} ms`,
      );
      await statusOf(tracker, tracker.submit('test.progress', null).id, 'COMPLETED');
    }));

  it('a worker that crashes fails its task with TETHER_POOL_TASK_FAILED, and is replaced', () =>
    withPool(async (tracker) => {
      const crashed = await statusOf(tracker, tracker.submit('test.crash', null).id, 'FAILED');
      assert.equal(crashed.problem?.code, 'TETHER_POOL_TASK_FAILED');
      await statusOf(tracker, tracker.submit('test.progress', null).id, 'COMPLETED');
    }));

  it('a job in flight when the pool is killed fails TETHER_POOL_STOPPED; the pool is restarted and runs the next job', () =>
    withPool(async (tracker, events, system) => {
      const spinning = tracker.submit('test.spin', null);
      await eventually(() => reported(events, spinning.id), 10_000, 'the spinning job reports progress');
      assert.equal(system.exit('pool', 'kill'), true);
      const failed = await statusOf(tracker, spinning.id, 'FAILED');
      assert.equal(failed.problem?.code, 'TETHER_POOL_STOPPED');
      await statusOf(tracker, tracker.submit('test.progress', null).id, 'COMPLETED');
    }));

  it('a closed pool takes no more work', async () => {
    const executor = new PoolExecutor({ run: () => Promise.reject(new Error('the pool was used')) });
    await executor.close();
    const control = { signal: new AbortController().signal, callback: { started() {}, progress() {} } };
    await assert.rejects(executor.execute({ kind: 'test.timer', args: null }, control), {
      code: 'TETHER_POOL_CLOSED',
    });
  });
});

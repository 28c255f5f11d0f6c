/**
 * Pool children (piscina) in a supervision tree, on real threads: tasks
 * through `system.pool(id)`, failures of one task, abort, queue limits,
 * stop and restart with tasks in flight, group restarts, status, spec
 * validation. Every test ends with no pool incarnation (so no pool thread)
 * and no actor worker left.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActorDownError,
  ActorInitError,
  AlreadyStartedError,
  FailedToStartChildError,
  InvalidChildSpecError,
  NotAPoolTaskError,
  PoolQueueFullError,
  PoolStoppedError,
  PoolTaskAbortedError,
  PoolTaskCrashedError,
  RemoteError,
  TetherError,
} from '../../runtime/index.js';
import type { ActorSystem, DownNotice, PoolRef, PoolRunOptions } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { PoolChildSpec } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { POOL_NO_HANDLER_MODULE } from '../fixtures/pool-no-handler.js';
import { POOL_PLAIN_MODULE } from '../fixtures/pool-plain.js';
import { POOL_TASKS_MODULE } from '../fixtures/pool-tasks.js';
import type { PoolTestTask } from '../fixtures/pool-tasks.js';
import { EventLog, eventually, probe, withDeadline, withSystem as withActorSystem } from '../helpers.js';

const POOL_BROKEN_MODULE = new URL('../fixtures/pool-broken.js', import.meta.url).href;

/** A runtime per test that must leave no pool (and no actor worker) behind. */
async function withSystem(body: (system: ActorSystem) => Promise<void>): Promise<void> {
  let ran: ActorSystem | undefined;
  await withActorSystem(async (system) => {
    ran = system;
    await body(system);
  });
  assert.equal(ran?.census().pools, 0, 'a pool incarnation (and its threads) was left running');
}

function pool(id: string, extra: Partial<PoolChildSpec> = {}): PoolChildSpec {
  return { id, kind: 'pool', module: POOL_TASKS_MODULE, threads: { max: 2 }, shutdown: 2000, ...extra };
}

async function tree(system: ActorSystem, children: PoolChildSpec[], flags = {}): Promise<Supervisor> {
  const sup = new Supervisor(system, { id: 'root', flags: { intensity: 5, ...flags }, children });
  await sup.start();
  return sup;
}

/**
 * Sends a task that spins for `ms` (or until `release()`) and resolves once it
 * is on a thread, with its promise (in an object, so it is not awaited here).
 * A test that needs it running while it acts gives a long `ms` and releases
 * it: a short spin can end before the test acts on a loaded machine.
 */
async function spinning(
  p: PoolRef<PoolTestTask>,
  ms: number,
  options: PoolRunOptions = {},
): Promise<{ task: Promise<unknown>; release: () => void }> {
  const started = new Int32Array(new SharedArrayBuffer(4));
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const task = p.run({ op: 'spin', ms, started, release: gate }, options);
  // Settled by the test; this only keeps a rejection before it looks from counting as unhandled.
  task.catch(() => undefined);
  await eventually(() => Atomics.load(started, 0) === 1, 10_000, 'the spinning task runs');
  return { task, release: () => Atomics.store(gate, 0, 1) };
}

async function rejectsWith(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error) {
  await assert.rejects(withDeadline(promise, 10_000, 'the task to settle'), errorClass);
}

describe('pool children', () => {
  it('runs a task on a pool thread and resolves with what the task function returned', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('hash')]);
      const hash = system.pool<PoolTestTask, unknown>('hash');
      assert.deepEqual(await hash.run({ op: 'echo', value: { a: [1, 2] } }), { a: [1, 2] });
      // An async task function (a timer inside the task) settles too.
      assert.equal(typeof (await hash.run({ op: 'sleep', ms: 5 })), 'number');
      await sup.stop();
    }));

  it("a task's error is rethrown with its class and code; the pool runs the next task", () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p')]);
      const p = system.pool<PoolTestTask>('p');
      await rejectsWith(p.run({ op: 'throw', tether: true }), ActorInitError);
      const plain = await p.run({ op: 'throw' }).catch((error: unknown) => error);
      assert.ok(plain instanceof RemoteError);
      assert.equal(plain.code, 'E_FROM_TASK');
      assert.equal(await p.run({ op: 'echo', value: 1 }), 1);
      assert.equal(sup.whichChild('p').incarnation, 1);
      await sup.stop();
    }));

  it('a task that kills its thread fails alone: the thread is replaced and the pool is not restarted', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 2 } })]);
      const log = new EventLog(sup.events);
      const p = system.pool<PoolTestTask>('p');
      // Busy until the other task has crashed, so it runs on the other thread meanwhile.
      const { task: bystander, release } = await spinning(p, 60_000);
      await rejectsWith(p.run({ op: 'exit' }), PoolTaskCrashedError);
      release();
      assert.equal(typeof (await bystander), 'number', 'the task on the other thread finished');
      assert.equal(await p.run({ op: 'echo', value: 'again' }), 'again');
      assert.equal(log.of('child-exited').length, 0);
      assert.equal(sup.whichChild('p').incarnation, 1);
      await sup.stop();
    }));

  it('a task that runs its thread out of memory fails alone', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [
        pool('p', { threads: { max: 1 }, resourceLimits: { maxOldGenerationSizeMb: 16 } }),
      ]);
      const p = system.pool<PoolTestTask>('p');
      await rejectsWith(p.run({ op: 'oom' }), PoolTaskCrashedError);
      assert.equal(await p.run({ op: 'echo', value: 2 }), 2);
      await sup.stop();
    }));

  it('an AbortSignal takes a queued task out of the queue; the running one finishes', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 } })]);
      const p = system.pool<PoolTestTask>('p');
      const { task: running, release } = await spinning(p, 60_000);
      const controller = new AbortController();
      const queued = p.run({ op: 'echo', value: 'never' }, { signal: controller.signal });
      assert.equal(sup.whichChild('p').pool?.queueSize, 1);
      controller.abort();
      await rejectsWith(queued, PoolTaskAbortedError);
      release();
      assert.equal(typeof (await running), 'number');
      await sup.stop();
    }));

  it('an AbortSignal stops a running task at once: its thread is replaced and the next task runs', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 } })]);
      const p = system.pool<PoolTestTask>('p');
      const controller = new AbortController();
      const { task: running } = await spinning(p, 60_000, { signal: controller.signal });
      controller.abort();
      // Far inside the minute the task would spin for.
      await rejectsWith(running, PoolTaskAbortedError);
      assert.equal(await p.run({ op: 'echo', value: 3 }), 3);
      // A signal aborted already: refused without running.
      await rejectsWith(
        p.run({ op: 'echo', value: 4 }, { signal: AbortSignal.abort() }),
        PoolTaskAbortedError,
      );
      await sup.stop();
    }));

  it('a task beyond maxQueue is refused with PoolQueueFullError and nothing else is lost', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 }, maxQueue: 1 })]);
      const p = system.pool<PoolTestTask>('p');
      const { task: running, release } = await spinning(p, 60_000);
      const queued = p.run({ op: 'echo', value: 'queued' });
      await rejectsWith(p.run({ op: 'echo', value: 'one too many' }), PoolQueueFullError);
      release();
      assert.equal(typeof (await running), 'number');
      assert.equal(await queued, 'queued');
      await sup.stop();
    }));

  it("a full queue is refused with the code TETHER_POOL_QUEUE_FULL, whichever of piscina's two messages says it", () =>
    withSystem(async (system) => {
      // maxQueue reached ("Task queue is at limit"), and maxQueue 0 with every thread busy ("No task queue available").
      const sup = await tree(system, [
        pool('one', { threads: { max: 1 }, maxQueue: 1 }),
        pool('none', { threads: { max: 1 }, maxQueue: 0 }),
      ]);
      for (const [id, queued] of [
        ['one', 1],
        ['none', 0],
      ] as const) {
        const p = system.pool<PoolTestTask>(id);
        // Busy until the test releases it: a short spin could end before the refusal on a stalled machine.
        const { task: running, release } = await spinning(p, 60_000);
        const waiting = Array.from({ length: queued }, () => p.run({ op: 'echo', value: 'queued' }));
        const refused = await withDeadline(
          p.run({ op: 'echo', value: 'one too many' }).catch((e: unknown) => e),
          10_000,
          'the refusal',
        );
        assert.ok(refused instanceof TetherError, `${id}: ${String(refused)}`);
        assert.equal(refused.code, 'TETHER_POOL_QUEUE_FULL', id);
        assert.deepEqual(refused.detail, { poolId: id, limit: queued });
        release();
        assert.equal(typeof (await running), 'number');
        assert.deepEqual(
          await Promise.all(waiting),
          waiting.map(() => 'queued'),
        );
      }
      await sup.stop();
    }));

  it('stop lets a running task finish within the shutdown timeout and refuses the queued ones', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 }, shutdown: 5000 })]);
      const p = system.pool<PoolTestTask>('p');
      const { task: running, release } = await spinning(p, 60_000);
      const queued = p.run({ op: 'echo', value: 'queued' });
      const stopped = sup.terminateChild('p');
      await rejectsWith(queued, PoolStoppedError);
      // It ends by itself (released), well within the 5 s shutdown timeout.
      release();
      assert.equal(typeof (await running), 'number', 'the running task finished');
      await stopped;
      assert.equal(sup.whichChild('p').lastExit?.reason.kind, 'shutdown');
      // Stopped for good (until restarted): refused at once, not after a wait.
      const error = await withDeadline(
        p.run({ op: 'echo', value: 'late' }).catch((e: unknown) => e),
        1000,
        'a task to a stopped pool',
      );
      assert.ok(error instanceof PoolStoppedError);
      await sup.stop();
    }));

  it('stop ends a task still running at the shutdown timeout: it rejects PoolStoppedError, the pool exits killed', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 }, shutdown: 100 })]);
      const p = system.pool<PoolTestTask>('p');
      const { task: running } = await spinning(p, 60_000);
      const refused = rejectsWith(running, PoolStoppedError);
      await withDeadline(sup.terminateChild('p'), 10_000, 'the stop');
      await refused;
      assert.equal(sup.whichChild('p').lastExit?.reason.kind, 'killed');
      await sup.stop();
    }));

  it('a pool killed from outside is restarted: tasks in flight reject, tasks sent meanwhile run on the new one', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 } })], {
        backoff: { minMs: 200, maxMs: 200 },
      });
      const log = new EventLog(sup.events);
      const p = system.pool<PoolTestTask>('p');
      const { task: running } = await spinning(p, 60_000);
      assert.equal(system.exit('p', 'kill'), true);
      await rejectsWith(running, PoolStoppedError);
      // Sent during the backoff before the restart: waits for the new pool.
      await log.waitFor('backoff');
      const during = p.run({ op: 'echo', value: 'after the restart' });
      assert.equal(
        await withDeadline(during, 10_000, 'the task sent during the restart'),
        'after the restart',
      );
      assert.equal(sup.whichChild('p').incarnation, 2);
      assert.equal((await log.waitFor('child-exited')).reason.kind, 'killed');
      await sup.stop();
    }));

  it('a task sent while the pool restarts waits at most the call timeout, then rejects PoolStoppedError', () =>
    withActorSystem(
      async (system) => {
        const sup = await tree(system, [pool('p')], { backoff: { minMs: 5000, maxMs: 5000 } });
        const log = new EventLog(sup.events);
        system.exit('p', 'kill');
        await log.waitFor('backoff');
        await rejectsWith(system.pool('p').run({ op: 'echo', value: 1 }), PoolStoppedError);
        await sup.stop();
        assert.equal(system.census().pools, 0);
      },
      { callTimeoutMs: 200 },
    ));

  it("an error in an idle pool thread is the pool's own failure: it exits crashed and is restarted", () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { max: 1 } })]);
      const log = new EventLog(sup.events);
      const p = system.pool<PoolTestTask>('p');
      assert.equal(await p.run({ op: 'stray-error' }), 'ok');
      const exited = await log.waitFor('child-exited');
      assert.equal(exited.reason.kind, 'crash');
      await log.waitFor('child-restarted');
      assert.equal(await p.run({ op: 'echo', value: 5 }), 5);
      await sup.stop();
    }));

  it('a pool whose module fails to load exits at once, and its supervisor gives up after its intensity', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 2, periodMs: 60_000 },
        children: [pool('broken', { module: POOL_BROKEN_MODULE, threads: { min: 1, max: 1 } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await log.waitFor('give-up');
      assert.equal(log.of('child-exited').length, 3);
      assert.equal((await withDeadline(sup.exited, 10_000, 'the supervisor to end')).kind, 'shutdown');
    }));

  it('one_for_all restarts the pool with the actor that crashed; rest_for_one restarts it when an earlier child crashes', () =>
    withSystem(async (system) => {
      for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
        const sup = new Supervisor(system, {
          id: `root-${strategy}`,
          flags: { strategy, intensity: 3 },
          children: [probe(`a-${strategy}`), pool(`p-${strategy}`)],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        assert.equal(system.injectFault(`a-${strategy}`, 'crash'), true);
        const restarted = await log.waitFor('child-restarted');
        assert.deepEqual(restarted.group, [`a-${strategy}`, `p-${strategy}`]);
        assert.equal(sup.whichChild(`p-${strategy}`).incarnation, 2);
        assert.equal(await system.pool(`p-${strategy}`).run({ op: 'echo', value: 6 }), 6);
        await sup.stop();
      }
    }));

  it("the tree's status shows a pool's threads, queue, utilisation and tasks done; it counts as a worker", () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { threads: { min: 1, max: 1 } })]);
      const p: PoolRef<PoolTestTask> = system.pool('p');
      await p.run({ op: 'spin', ms: 50 });
      await p.run({ op: 'throw' }).catch(() => undefined);
      const status = sup.whichChild('p').pool;
      assert.ok(status !== undefined);
      assert.equal(status.threads, 1);
      assert.equal(status.queueSize, 0);
      assert.equal(status.running, 0);
      assert.equal(status.completed, 2);
      assert.equal(status.failed, 1);
      // Measured over windows of 5 s (the test below runs shorter ones): a figure of 0..1 all the same.
      assert.ok(status.utilization >= 0 && status.utilization <= 1, `utilization ${status.utilization}`);
      assert.deepEqual(sup.whichChildren()[0]?.kind, 'pool');
      assert.deepEqual(sup.countChildren(), { specs: 1, active: 1, supervisors: 0, workers: 1 });
      assert.equal(p.status()?.completed, 2);
      await sup.terminateChild('p');
      assert.equal(sup.whichChild('p').pool, undefined);
      await sup.stop();
    }));

  it('utilisation says how busy the pool is now: a task still running counts, and an idle pool drops back to about 0', () =>
    withSystem(async (system) => {
      const pool = await system.startPool({ ...poolStart('u'), utilizationWindowMs: 100 });
      const p = system.pool<PoolTestTask>('u');
      const { task, release } = await spinning(p, 60_000);
      // Before its end (it runs until released): an average over finished tasks (piscina's) would still say 0.
      await eventually(
        () => (p.status()?.utilization ?? 0) > 0.5,
        10_000,
        'the running task to show in the utilisation',
      );
      release();
      assert.equal(typeof (await task), 'number');
      // Idle again: an average since the start would stay high for as long as the pool lives.
      await eventually(
        () => (p.status()?.utilization ?? 1) < 0.1,
        10_000,
        'the idle pool to show in the utilisation',
      );
      pool.kill();
      await pool.exited;
    }));

  it('moves buffers both ways: a transferList in, a moved result out', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p')]);
      const p = system.pool<PoolTestTask, unknown>('p');
      const bytes = new Uint8Array([1, 2, 3, 4]).buffer;
      assert.equal(await p.run({ op: 'sum', bytes }, { transferList: [bytes] }), 10);
      assert.equal(bytes.byteLength, 0, 'the buffer was moved, not copied');
      const moved = await p.run({ op: 'move', size: 1024 });
      assert.ok(moved instanceof ArrayBuffer);
      assert.equal(moved.byteLength, 1024);
      await sup.stop();
    }));

  it('a module without definePoolTask, or with no default export, gives NotAPoolTaskError; a module that does not exist fails the start', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [
        pool('plain', { module: POOL_PLAIN_MODULE }),
        pool('empty', { module: POOL_NO_HANDLER_MODULE }),
      ]);
      await rejectsWith(system.pool('plain').run('x'), NotAPoolTaskError);
      // No default export at all: piscina's own error, given as ours.
      await rejectsWith(system.pool('empty').run('x'), NotAPoolTaskError);
      const missing = await sup
        .startChild(pool('missing', { module: new URL('./no-such-module.js', import.meta.url).href }))
        .catch((error: unknown) => error);
      assert.ok(missing instanceof FailedToStartChildError);
      assert.ok(missing.cause instanceof NotAPoolTaskError);
      await sup.stop();
    }));

  it("a pool's id is a name like an actor's: taken, the start fails with AlreadyStartedError", () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('x')]);
      const actor = new Supervisor(system, { id: 'other', children: [probe('x')] });
      const error = await actor.start().catch((e: unknown) => e);
      assert.ok(error instanceof FailedToStartChildError);
      assert.ok(error.cause instanceof AlreadyStartedError);
      const again = await sup
        .startChild(pool('y'))
        .then(() => system.startPool({ ...poolStart('y') }).catch((e: unknown) => e));
      assert.ok(again instanceof AlreadyStartedError);
      await sup.stop();
    }));

  it('a monitor of a pool gets one down notice with its exit reason; whereis names its supervisor', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p')]);
      assert.deepEqual(system.whereis('p'), { holder: { kind: 'supervisor', id: 'root' }, incarnation: 1 });
      const notices: DownNotice[] = [];
      system.monitor('p', (notice) => notices.push(notice));
      system.exit('p', 'kill');
      await eventually(() => notices.length === 1, 10_000, 'the down notice');
      assert.deepEqual(notices, [{ id: 'p', incarnation: 1, reason: { kind: 'killed' } }]);
      await sup.stop();
    }));

  it('a call through an actor ref to a pool id rejects ActorDownError at once instead of waiting for an answer', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p')]);
      const error = await withDeadline(
        system
          .ref<{ work(): Promise<void> }>('p')
          .call('work')
          .catch((e: unknown) => e),
        1000,
        'the refusal',
      );
      assert.ok(error instanceof ActorDownError);
      // The pool itself still takes tasks.
      assert.deepEqual(await system.pool('p').run({ op: 'echo', value: 7 }), 7);
      await sup.stop();
    }));

  it("a call from inside an actor to a pool id rejects ActorDownError at once, also one made before the pool's start", () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', flags: { intensity: 5 }, children: [probe('a')] });
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      // Before the pool exists the name is unknown: the call waits for a holder ...
      const early = a.call('callPeer', 'p', 'work').catch((e: unknown) => e);
      await sup.startChild(pool('p'));
      // ... and is refused once a pool takes the name, well before its deadline.
      const refusedEarly = await withDeadline(early, 1000, 'the refusal of the early call');
      assert.ok(refusedEarly instanceof TetherError, String(refusedEarly));
      assert.equal(refusedEarly.code, 'TETHER_ACTOR_DOWN');
      // A ref taken while the pool runs: refused at once.
      const refused = await withDeadline(
        a.call('callPeer', 'p', 'work').catch((e: unknown) => e),
        1000,
        'the refusal',
      );
      assert.ok(refused instanceof TetherError, String(refused));
      assert.equal(refused.code, 'TETHER_ACTOR_DOWN');
      assert.deepEqual(await system.pool('p').run({ op: 'echo', value: 8 }), 8);
      await sup.stop();
    }));

  it('a temporary pool that exits stays stopped: its tasks are refused at once', () =>
    withSystem(async (system) => {
      const sup = await tree(system, [pool('p', { restart: 'temporary' })]);
      const log = new EventLog(sup.events);
      system.exit('p', 'kill');
      await log.waitFor('child-exited');
      await sup.settled();
      const error = await withDeadline(
        system
          .pool('p')
          .run({ op: 'echo', value: 1 })
          .catch((e: unknown) => e),
        1000,
        'refusal',
      );
      assert.ok(error instanceof PoolStoppedError);
      await sup.stop();
    }));

  it('shutting the runtime down ends every pool and its tasks settle', () =>
    withSystem(async (system) => {
      await tree(system, [pool('p', { threads: { max: 1 } })]);
      const p = system.pool<PoolTestTask>('p');
      const { task: running } = await spinning(p, 60_000);
      const refused = rejectsWith(running, PoolStoppedError);
      await system.shutdown();
      await refused;
      assert.equal(system.census().pools, 0);
    }));
});

describe('pool child specs', () => {
  const check = (spec: unknown): InvalidChildSpecError => {
    const error = Supervisor.checkChildSpecs([spec]);
    assert.ok(
      error instanceof InvalidChildSpecError,
      `expected an InvalidChildSpecError for ${JSON.stringify(spec)}`,
    );
    return error;
  };

  it('a valid pool spec passes, with its defaults filled in', () => {
    assert.equal(
      Supervisor.checkChildSpecs([pool('p'), { id: 'q', kind: 'pool', module: POOL_TASKS_MODULE }]),
      undefined,
    );
  });

  it('an unknown key is refused with a did-you-mean', () => {
    const error = check({ ...pool('p'), maxQueu: 5 });
    assert.equal(error.detail['field'], 'maxQueu');
    assert.equal(error.detail['suggestion'], 'maxQueue');
    assert.equal(check({ ...pool('p'), threads: { mx: 2 } }).detail['suggestion'], 'threads.max');
  });

  it('each bad field is named', () => {
    const cases: Array<[Partial<PoolChildSpec> | Record<string, unknown>, string]> = [
      [{ module: '' }, 'module'],
      [{ threads: { min: 3, max: 2 } }, 'threads.min'],
      [{ threads: { max: 0 } }, 'threads.max'],
      [{ threads: 4 }, 'threads'],
      [{ maxQueue: -1 }, 'maxQueue'],
      [{ idleTimeoutMs: 1.5 }, 'idleTimeoutMs'],
      [{ niceIncrement: 20 }, 'niceIncrement'],
      [{ shutdown: 'later' }, 'shutdown'],
      [{ restart: 'sometimes' }, 'restart'],
      [{ resourceLimits: { maxOldGenerationSizeMb: -1 } }, 'resourceLimits.maxOldGenerationSizeMb'],
    ];
    for (const [change, field] of cases)
      assert.equal(check({ ...pool('p'), ...change }).detail['field'], field);
  });
});

function poolStart(id: string) {
  return {
    id,
    module: POOL_TASKS_MODULE,
    minThreads: 0,
    maxThreads: 1,
    maxQueue: 10,
    idleTimeoutMs: 1000,
    niceIncrement: 0,
    shutdown: 1000,
  };
}

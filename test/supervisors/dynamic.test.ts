/**
 * OTP's simple_one_for_one: one child template, instances started with
 * their own arguments (`startChild(args)`), each addressable by its id,
 * restarted as one_for_one would, stopped with their supervisor in
 * parallel, counted as count_children counts them; and nothing left behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActorDownError,
  FailedToStartChildError,
  InvalidChildSpecError,
  SimpleOneForOneError,
  liveWorkerCount,
} from '../../runtime/index.js';
import type { WorkerChildSpec } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, eventually, probe, withSystem } from '../helpers.js';

function pool(template: WorkerChildSpec, intensity = 5) {
  return {
    id: 'pool',
    flags: { strategy: 'simple_one_for_one' as const, intensity, periodMs: 60_000 },
    children: [template],
  };
}

describe('simple_one_for_one', () => {
  it('starts no child with the supervisor; startChild(args) starts an addressable instance that gets its args', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, pool(probe('task')));
      const log = new EventLog(sup.events);
      await sup.start();
      assert.deepEqual(sup.whichChildren(), []);
      assert.deepEqual(log.of('supervisor-started')[0]?.children, []);
      const one = await sup.startChild(['first', 1]);
      const two = await sup.startChild([{ job: 2 }]);
      const named = await sup.startChild(['third'], { id: 'task-named' });
      assert.notEqual(one.id, two.id);
      assert.equal(named.id, 'task-named');
      assert.deepEqual(await system.ref<ProbeApi>(one.id).call('args'), ['first', 1]);
      assert.deepEqual(await system.ref<ProbeApi>(two.id).call('args'), [{ job: 2 }]);
      assert.deepEqual(await system.ref<ProbeApi>('task-named').call('whoami'), {
        id: 'task-named',
        incarnation: 1,
      });
      assert.deepEqual(
        sup.whichChildren().map((c) => c.id),
        [one.id, two.id, 'task-named'],
      );
      await sup.stop();
    }));

  it('count_children counts the template as the one spec and every instance as a worker', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, pool(probe('task')));
      await sup.start();
      assert.deepEqual(sup.countChildren(), { specs: 1, active: 0, supervisors: 0, workers: 0 });
      await sup.startChild([1]);
      await sup.startChild([2]);
      assert.deepEqual(sup.countChildren(), { specs: 1, active: 2, supervisors: 0, workers: 2 });
      await sup.stop();
    }));

  it('a permanent instance that crashes is restarted with the same id and args; transient and temporary ones that end are removed', () =>
    withSystem(async (system) => {
      const permanent = new Supervisor(system, pool(probe('p')));
      const log = new EventLog(permanent.events);
      await permanent.start();
      const p = await permanent.startChild(['keep me']);
      await system.ref<ProbeApi>(p.id).call('crashSoon', 'boom');
      await log.waitFor('child-restarted');
      assert.deepEqual(await system.ref<ProbeApi>(p.id).call('whoami'), { id: p.id, incarnation: 2 });
      assert.deepEqual(await system.ref<ProbeApi>(p.id).call('args'), ['keep me']);

      const transient = new Supervisor(system, {
        ...pool(probe('t', { restart: 'transient' })),
        id: 'tpool',
      });
      const temporary = new Supervisor(system, {
        ...pool(probe('x', { restart: 'temporary' })),
        id: 'xpool',
      });
      const tlog = new EventLog(transient.events);
      const xlog = new EventLog(temporary.events);
      await transient.start();
      await temporary.start();
      const t = await transient.startChild([]);
      const x = await temporary.startChild([]);
      await system.ref<ProbeApi>(t.id).call('exitSelf', 'normal');
      await system.ref<ProbeApi>(x.id).call('crashSoon', 'gone');
      await tlog.waitFor('child-exited');
      await xlog.waitFor('child-exited');
      await transient.settled();
      await temporary.settled();
      assert.deepEqual(transient.whichChildren(), []);
      assert.deepEqual(temporary.whichChildren(), []);
      await assert.rejects(system.ref<ProbeApi>(t.id).call('whoami'), ActorDownError);
      await Promise.all([permanent.stop(), transient.stop(), temporary.stop()]);
    }));

  it('instances are stopped in parallel when their supervisor stops', () =>
    withSystem(async (system) => {
      const terminateMs = 1000;
      const sup = new Supervisor(system, pool(probe('slow', { config: { terminateDelayMs: terminateMs } })));
      const log = new EventLog(sup.events);
      await sup.start();
      for (let i = 0; i < 4; i += 1) await sup.startChild([i]);
      const started = Date.now();
      assert.deepEqual(await sup.stop(), { kind: 'shutdown' });
      const took = Date.now() - started;
      // One after another would take 4 s; in parallel, about one.
      assert.ok(took < 3 * terminateMs, `stopped in ${took} ms`);
      assert.equal(log.of('child-terminated').length, 4);
      for (const e of log.of('child-terminated')) assert.deepEqual(e.reason, { kind: 'shutdown' });
    }));

  it('terminateChild removes an instance; restartChild and deleteChild are refused as in OTP', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, pool(probe('task')));
      await sup.start();
      const one = await sup.startChild([]);
      await assert.rejects(sup.restartChild(one.id), SimpleOneForOneError);
      await assert.rejects(sup.deleteChild(one.id), SimpleOneForOneError);
      await sup.terminateChild(one.id);
      assert.deepEqual(sup.whichChildren(), []);
      await assert.rejects(system.ref<ProbeApi>(one.id).call('whoami'), ActorDownError);
      await sup.stop();
    }));

  it('startChild takes a list of arguments, not a spec; a failing instance is not kept', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, pool(probe('task', { config: { failInit: true } })));
      await sup.start();
      await assert.rejects(sup.startChild(probe('other')), InvalidChildSpecError);
      await assert.rejects(sup.startChild([]), FailedToStartChildError);
      assert.deepEqual(sup.whichChildren(), []);
      await sup.stop();
    }));

  it('a simple_one_for_one supervisor needs exactly one child spec', () =>
    withSystem(async (system) => {
      for (const children of [[], [probe('a'), probe('b')]]) {
        assert.throws(
          () => new Supervisor(system, { id: 'pool', flags: { strategy: 'simple_one_for_one' }, children }),
          (error: unknown) => error instanceof InvalidChildSpecError && error.detail['field'] === 'children',
        );
      }
    }));

  // 100, not 200: each start is a worker thread, and on a loaded 2-core machine 200 of them took
  // this file past its 3-minute bound; one left behind shows in the census as well after 100.
  it('starting and stopping 100 temporary instances leaves no worker, handle or name behind', () =>
    withSystem(
      async (system) => {
        const sup = new Supervisor(system, pool(probe('job', { restart: 'temporary', heartbeat: false })));
        await sup.start();
        const before = system.census();
        const ids: string[] = [];
        for (let round = 0; round < 5; round += 1) {
          const batch = [];
          for (let i = 0; i < 20; i += 1) batch.push(await sup.startChild([round, i]));
          for (const child of batch) ids.push(child.id);
          // Each is called by id (a main-thread ref each), then ends one of three ways.
          await Promise.all(batch.map((child) => system.ref<ProbeApi>(child.id).call('whoami')));
          const [byOperator, byThemselves] = [batch.slice(0, 10), batch.slice(10)];
          for (const child of byOperator) await sup.terminateChild(child.id);
          for (const child of byThemselves) await system.ref<ProbeApi>(child.id).call('exitSelf', 'normal');
          await eventually(() => sup.countChildren().active === 0, 10_000, 'the round ended');
        }
        assert.equal(new Set(ids).size, 100);
        await sup.stop();
        await eventually(() => liveWorkerCount() <= 1, 10_000, 'every worker but a standby gone');
        await eventually(() => system.census().incarnations === 0, 10_000, 'every incarnation released');
        assert.deepEqual(sup.whichChildren(), []);
        assert.deepEqual(system.census(), before);
      },
      { callTimeoutMs: 30_000 },
    ));
});

/**
 * OTP's `ignore` from init: the child is not started and not a failure. Its
 * supervisor keeps it as not running (a temporary child is not kept), and
 * does not retry it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActorDownError,
  ActorIgnoredError,
  AlreadyPresentError,
  liveWorkerCount,
} from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { PROBE_MODULE } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

describe('ignore from init', () => {
  it('a static child that ignores is kept as not running, the others start, and its callers get ActorDownError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a'), probe('shy', { config: { ignoreInit: [1] } }), probe('c')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.deepEqual(
        sup.whichChildren().map((c) => [c.id, c.status]),
        [
          ['a', 'running'],
          ['shy', 'stopped'],
          ['c', 'running'],
        ],
      );
      assert.deepEqual(
        log.of('child-ignored').map((e) => e.childId),
        ['shy'],
      );
      assert.equal(log.of('child-start-failed').length, 0);
      assert.deepEqual(sup.countChildren(), { specs: 3, active: 2, supervisors: 0, workers: 3 });
      await assert.rejects(system.ref<ProbeApi>('shy').call('whoami'), ActorDownError);
      // Restarted by an operator, it runs (its init no longer ignores).
      const info = await sup.restartChild('shy');
      assert.equal(info.status, 'running');
      assert.deepEqual(await system.ref<ProbeApi>('shy').call('whoami'), { id: 'shy', incarnation: 2 });
      await sup.stop();
    }));

  it('a temporary child that ignores is not kept', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a'), probe('shy', { restart: 'temporary', config: { ignoreInit: true } })],
      });
      await sup.start();
      assert.deepEqual(
        sup.whichChildren().map((c) => c.id),
        ['a'],
      );
      await sup.stop();
    }));

  it('startChild and restartChild of a child that ignores resolve with it not running; its spec is kept', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [] });
      await sup.start();
      const started = await sup.startChild(probe('shy', { config: { ignoreInit: true } }));
      assert.equal(started.status, 'stopped');
      await assert.rejects(sup.startChild(probe('shy')), AlreadyPresentError);
      const restarted = await sup.restartChild('shy');
      assert.equal(restarted.status, 'stopped');
      await sup.deleteChild('shy');
      assert.equal(liveWorkerCount() <= 1, true, 'no worker kept for it (a standby at most)');
      await sup.stop();
    }));

  it('a child that ignores on a restart is kept as not running, and not retried', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('a', { config: { ignoreInit: [2, 3, 4, 5, 6] } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('a').call('crashSoon', 'once');
      await log.waitFor('child-ignored');
      await sup.settled();
      assert.equal(sup.whichChildren()[0]?.status, 'stopped');
      assert.equal(log.of('child-ignored').length, 1, 'not retried');
      assert.equal(sup.state, 'running');
      await sup.stop();
    }));

  it('system.spawn of an actor that ignores rejects with ActorIgnoredError and leaves no worker', () =>
    withSystem(
      async (system) => {
        await assert.rejects(
          system.spawn({
            id: 'shy',
            module: PROBE_MODULE,
            config: { ignoreInit: true },
            heartbeat: false,
            startTimeoutMs: 5000,
          }),
          ActorIgnoredError,
        );
        assert.equal(system.whereis('shy'), undefined);
      },
      { warmStandby: false },
    ));
});

/**
 * OTP supervisor_SUITE: start and stop order, shutdown timeouts and
 * brutal_kill, failing children at start and on restart, the child API
 * (also in the middle of a restart loop), backoff and never giving up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AlreadyPresentError,
  AlreadyStartedError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  FailedToStartChildError,
  InvalidChildSpecError,
} from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, eventually, probe, withSystem } from '../helpers.js';
import { liveWorkerCount } from '../../runtime/index.js';

describe('start and stop', () => {
  it('children start in order, start resolves after every init, and they stop in reverse order', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [
          probe('a', { config: { initDelayMs: 30 } }),
          probe('b'),
          { id: 'inner', kind: 'supervisor', children: [probe('c'), probe('d')] },
          probe('e', { config: { initDelayMs: 30 } }),
        ],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.deepEqual(
        log.of('child-started').map((e) => e.childId),
        ['a', 'b', 'c', 'd', 'inner', 'e'],
      );
      assert.deepEqual(sup.countChildren(), { specs: 4, active: 4, supervisors: 1, workers: 3 });
      assert.deepEqual(await sup.stop(), { kind: 'shutdown' });
      assert.deepEqual(
        log.of('child-terminated').map((e) => e.childId),
        ['e', 'd', 'c', 'inner', 'b', 'a'],
      );
      for (const e of log.of('child-terminated')) assert.deepEqual(e.reason, { kind: 'shutdown' });
    }));

  it('a child that ignores shutdown is killed when its shutdown timeout passes', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('stubborn', { shutdown: 200, config: { ignoreShutdown: true }, heartbeat: false })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const started = Date.now();
      await sup.terminateChild('stubborn');
      const took = Date.now() - started;
      assert.deepEqual(log.of('child-terminated')[0]?.reason, { kind: 'killed' });
      assert.ok(took >= 150 && took < 5000, `killed after its timeout (${took} ms)`);
      await sup.stop();
    }));

  it('brutal_kill ends a child at once, without running terminate', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('k', { shutdown: 'brutal_kill', config: { ignoreShutdown: true } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await sup.stop();
      assert.deepEqual(log.of('child-terminated')[0]?.reason, { kind: 'killed' });
    }));

  it('a failing child at start: the started ones stop in reverse order and start rejects naming the child', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a'), probe('b'), probe('bad', { config: { failInit: true } }), probe('never')],
      });
      const log = new EventLog(sup.events);
      const error = await sup.start().catch((e: unknown) => e);
      assert.ok(error instanceof FailedToStartChildError);
      assert.equal(error.detail['childId'], 'bad');
      assert.equal((error.cause as { code?: string }).code, 'TETHER_ACTOR_INIT');
      assert.deepEqual(
        log.of('child-terminated').map((e) => e.childId),
        ['b', 'a'],
      );
      assert.ok(!log.of('child-started').some((e) => e.childId === 'never'));
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    }));

  it('a child whose init never finishes fails its start at the start timeout', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('slow', { startTimeoutMs: 300, heartbeat: false, config: { hangInit: true } })],
      });
      await assert.rejects(sup.start(), FailedToStartChildError);
    }));

  it('a child that keeps failing to restart is retried, each try a restart, until the supervisor gives up', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 3, periodMs: 60_000 },
        children: [probe('a'), probe('phoenix', { config: { failInit: [2, 3, 4, 5, 6, 7] } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('phoenix').call('crashSoon', 'down');
      await log.waitFor('give-up');
      // Crash: restart 1 fails; retries 2 and 3 fail; the 4th exceeds intensity 3.
      assert.equal(log.of('child-start-failed').length, 3);
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    }));
});

describe('the child API', () => {
  it('startChild, terminateChild, restartChild, deleteChild and their errors', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const info = await sup.startChild(probe('b'));
      assert.equal(info.status, 'running');
      assert.deepEqual(
        sup.whichChildren().map((c) => c.id),
        ['a', 'b'],
      );
      await assert.rejects(sup.startChild(probe('b')), AlreadyStartedError);
      await assert.rejects(sup.restartChild('b'), ChildRunningError);
      await assert.rejects(sup.deleteChild('b'), ChildRunningError);
      await assert.rejects(sup.terminateChild('zzz'), ChildNotFoundError);
      await assert.rejects(sup.restartChild('zzz'), ChildNotFoundError);
      await assert.rejects(sup.deleteChild('zzz'), ChildNotFoundError);
      await assert.rejects(sup.startChild({ id: '', kind: 'worker', module: 'x' }), InvalidChildSpecError);

      await sup.terminateChild('b');
      assert.equal(sup.whichChildren()[1]?.status, 'stopped');
      await assert.rejects(sup.startChild(probe('b')), AlreadyPresentError);
      const again = await sup.restartChild('b');
      assert.equal(again.incarnation, 2);
      await sup.terminateChild('b');
      await sup.deleteChild('b');
      assert.deepEqual(sup.countChildren(), { specs: 1, active: 1, supervisors: 0, workers: 1 });
      await assert.rejects(
        sup.startChild(probe('bad', { config: { failInit: true } })),
        FailedToStartChildError,
      );
      assert.equal(sup.countChildren().specs, 1, 'a child that failed to start leaves no spec');
      await sup.stop();
    }));

  it('findSupervisorOf finds the supervisor of any child in the tree by id', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a'), { id: 'inner', kind: 'supervisor', children: [probe('b')] }],
      });
      await sup.start();
      assert.equal(sup.findSupervisorOf('a'), sup);
      assert.equal(sup.findSupervisorOf('inner'), sup);
      assert.equal(sup.findSupervisorOf('b')?.id, 'inner');
      assert.equal(sup.findSupervisorOf('zzz'), undefined);
      await sup.stop();
    }));

  it('during a restart loop the API answers, and reports the child as restarting', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 100, periodMs: 60_000, backoff: { minMs: 300, maxMs: 300, jitter: 0 } },
        children: [probe('loop', { config: { failInit: [2, 3, 4, 5, 6, 7, 8, 9] } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('loop').call('crashSoon', 'down');
      await log.waitFor('child-start-failed');
      await log.waitFor('backoff', () => true, 10_000, 2);
      assert.equal(sup.whichChildren()[0]?.status, 'restarting');
      await assert.rejects(sup.restartChild('loop'), ChildRestartingError);
      await assert.rejects(sup.deleteChild('loop'), ChildRestartingError);
      // Terminating it ends the loop: no more attempts.
      await sup.terminateChild('loop');
      const failures = log.of('child-start-failed').length;
      assert.equal(sup.whichChildren()[0]?.status, 'stopped');
      await sup.deleteChild('loop');
      assert.equal(sup.countChildren().specs, 0);
      assert.equal(log.of('child-start-failed').length, failures);
      await sup.stop();
    }));
});

describe('operators and pending restarts', () => {
  /** Long enough past a 100 ms backoff that a timer left armed would have fired (wide margin). */
  const pastTheBackoff = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 600));

  it('a child terminated while it waits out a backoff stays stopped', () =>
    withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { intensity: 10, backoff: { minMs: 100, maxMs: 100, jitter: 0 } },
          children: [probe('a')],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        await system.ref<ProbeApi>('a').call('crashSoon', 'down');
        await log.waitFor('backoff');
        await sup.terminateChild('a');
        await pastTheBackoff();
        await sup.settled();
        assert.equal(sup.whichChildren()[0]?.status, 'stopped');
        assert.equal(log.of('child-started').length, 1, 'not started again');
        await sup.stop();
      },
      { warmStandby: false },
    ));

  it('terminate and restart during a backoff leave exactly one incarnation running', () =>
    withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { intensity: 10, backoff: { minMs: 100, maxMs: 100, jitter: 0 } },
          children: [probe('a')],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        await system.ref<ProbeApi>('a').call('crashSoon', 'down');
        await log.waitFor('backoff');
        await sup.terminateChild('a');
        const restarted = await sup.restartChild('a');
        await pastTheBackoff();
        await sup.settled();
        assert.equal(sup.whichChildren()[0]?.incarnation, restarted.incarnation, 'no second start');
        assert.equal(liveWorkerCount(), 1);
        await sup.stop();
      },
      { warmStandby: false },
    ));

  it('a supervisor killed while a child starts leaves no child running', () =>
    withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          children: [probe('a'), probe('slow', { config: { initDelayMs: 400 } })],
        });
        const starting = sup.start();
        const log = new EventLog(sup.events);
        await log.waitFor('child-started', (e) => e.childId === 'a');
        sup.kill();
        await assert.rejects(starting);
        assert.deepEqual(await sup.exited, { kind: 'killed' });
        await eventually(() => liveWorkerCount() === 0, 10_000, 'every worker gone');
      },
      { warmStandby: false },
    ));
});

describe('backoff', () => {
  it('with backoff, a restart waits and the delay grows with each restart', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: {
          intensity: 10,
          periodMs: 60_000,
          backoff: { minMs: 40, maxMs: 1000, factor: 2, jitter: 0, resetAfterMs: 60_000 },
        },
        children: [probe('a')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      for (let i = 1; i <= 3; i += 1) {
        await a.call('crashSoon', 'boom');
        await log.waitFor('child-restarted', () => true, 10_000, i);
      }
      assert.deepEqual(
        log.of('backoff').map((e) => e.delayMs),
        [40, 80, 160],
      );
      await sup.stop();
    }));

  it('a root set never to give up backs off and restarts its children when its intensity is spent', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: {
          intensity: 1,
          periodMs: 60_000,
          neverGiveUp: true,
          backoff: { minMs: 50, maxMs: 50, jitter: 0 },
        },
        children: [probe('a'), probe('b')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      await a.call('crashSoon', 'one');
      await log.waitFor('child-restarted');
      await a.call('crashSoon', 'two');
      const backoff = await log.waitFor('backoff', (e) => e.childId === undefined);
      assert.equal(backoff.delayMs, 50);
      await log.waitFor('child-started', (e) => e.childId === 'b' && e.incarnation === 2);
      assert.equal(log.of('give-up').length, 0);
      assert.equal(sup.state, 'running');
      assert.deepEqual(await a.call('whoami'), { id: 'a', incarnation: 3 });
      await sup.stop();
    }));
});

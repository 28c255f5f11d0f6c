/**
 * A child is reported `restarting` only while a restart of it is really
 * scheduled. A start that fails and is not retried leaves the child not
 * running (OTP's `undefined` pid), and then it can be restarted or deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedToStartChildError } from '../../runtime/index.js';
import type { Strategy } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

const statusOf = (sup: Supervisor): Record<string, string> =>
  Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.status]));

describe('nothing stays restarting unless a restart is scheduled', () => {
  it('a restartChild whose start fails leaves the child stopped, and it can be restarted or deleted', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a', { config: { failInit: [2] } }), probe('b', { config: { failInit: [2] } })],
      });
      await sup.start();
      await sup.terminateChild('a');
      await assert.rejects(sup.restartChild('a'), FailedToStartChildError);
      assert.equal(statusOf(sup)['a'], 'stopped');
      const again = await sup.restartChild('a');
      assert.equal(again.status, 'running');
      assert.equal(again.incarnation, 3);

      await sup.terminateChild('b');
      await assert.rejects(sup.restartChild('b'), FailedToStartChildError);
      await sup.deleteChild('b');
      assert.deepEqual(
        sup.whichChildren().map((c) => c.id),
        ['a'],
      );
      await sup.stop();
    }));

  for (const strategy of ['rest_for_one', 'one_for_all'] as const satisfies Strategy[]) {
    it(`${strategy}: when a member of a group restart fails to start, those after it are stopped, not restarting, and stay usable once the failing one is terminated`, () =>
      withSystem(async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          // The first restart comes after 1 ms; the failing member's retry waits out a minute,
          // so the test sees the state in between.
          flags: {
            strategy,
            intensity: 10,
            periodMs: 60_000,
            backoff: { minMs: 1, factor: 60_000, maxMs: 60_000, jitter: 0 },
          },
          children: [probe('a'), probe('b', { config: { failInit: [2, 3, 4] } }), probe('c')],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        try {
          await system.ref<ProbeApi>('a').call('crashSoon', 'boom');
          await log.waitFor('child-start-failed', (e) => e.childId === 'b');
          await log.waitFor('backoff', (e) => e.childId === 'b' && e.delayMs === 60_000);
          await sup.settled();
          assert.deepEqual(statusOf(sup), { a: 'running', b: 'restarting', c: 'stopped' });
        } catch (error) {
          // Never leave the minute-long retry armed behind a failed assertion.
          await sup.stop();
          throw error;
        }

        // The operator gives up on b: nothing is left waiting for a restart that will not come.
        await sup.terminateChild('b');
        assert.deepEqual(statusOf(sup), { a: 'running', b: 'stopped', c: 'stopped' });
        const c = await sup.restartChild('c');
        assert.equal(c.status, 'running');
        await sup.terminateChild('c');
        await sup.deleteChild('c');
        await sup.deleteChild('b');
        assert.deepEqual(
          sup.whichChildren().map((child) => child.id),
          ['a'],
        );
        await sup.stop();
      }));
  }

  it('never give up: when one child fails to start as the supervisor starts them all again, those after it are started by the retry', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: {
          intensity: 1,
          periodMs: 60_000,
          neverGiveUp: true,
          backoff: { minMs: 20, maxMs: 20, jitter: 0 },
        },
        children: [probe('a'), probe('b', { config: { failInit: [2] } }), probe('c')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      await a.call('crashSoon', 'one');
      await log.waitFor('child-restarted');
      await a.call('crashSoon', 'two');
      await log.waitFor('child-start-failed', (e) => e.childId === 'b');
      await log.waitFor('child-started', (e) => e.childId === 'c' && e.incarnation === 2);
      await sup.settled();
      assert.deepEqual(statusOf(sup), { a: 'running', b: 'running', c: 'running' });
      await sup.stop();
    }));
});

/**
 * OTP supervisor_SUITE: one_for_one, one_for_all, rest_for_one, each with
 * escalation when intensity runs out; the sliding window; nested escalation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

const incarnations = (sup: Supervisor): Record<string, number> =>
  Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.incarnation]));

describe('strategies', () => {
  it('one_for_one: only the failed child is restarted', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { strategy: 'one_for_one', intensity: 3 },
        children: [probe('a'), probe('b'), probe('c')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('b').call('crashSoon', 'boom');
      const restarted = await log.waitFor('child-restarted');
      assert.deepEqual(restarted.group, ['b']);
      assert.deepEqual(incarnations(sup), { a: 1, b: 2, c: 1 });
      await sup.stop();
    }));

  it('one_for_all: every child is stopped in reverse order and started again in order', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { strategy: 'one_for_all', intensity: 3 },
        children: [probe('a'), probe('b'), probe('c')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const startsBefore = log.of('child-started').length;
      await system.ref<ProbeApi>('b').call('crashSoon', 'boom');
      const restarted = await log.waitFor('child-restarted');
      assert.deepEqual(restarted.group, ['a', 'b', 'c']);
      assert.deepEqual(
        log.of('child-terminated').map((e) => e.childId),
        ['c', 'a'],
      );
      assert.deepEqual(
        log
          .of('child-started')
          .slice(startsBefore)
          .map((e) => e.childId),
        ['a', 'b', 'c'],
      );
      assert.deepEqual(incarnations(sup), { a: 2, b: 2, c: 2 });
      await sup.stop();
    }));

  it('rest_for_one: the failed child and those started after it are restarted', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { strategy: 'rest_for_one', intensity: 3 },
        children: [probe('a'), probe('b'), probe('c'), probe('d')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('b').call('crashSoon', 'boom');
      const restarted = await log.waitFor('child-restarted');
      assert.deepEqual(restarted.group, ['b', 'c', 'd']);
      assert.deepEqual(
        log.of('child-terminated').map((e) => e.childId),
        ['d', 'c'],
      );
      assert.deepEqual(incarnations(sup), { a: 1, b: 2, c: 2, d: 2 });
      await sup.stop();
    }));

  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}_escalation: more restarts than the intensity within the period and the supervisor gives up`, () =>
      withSystem(async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { strategy, intensity: 2, periodMs: 60_000 },
          children: [probe('a'), probe('b')],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        const b = system.ref<ProbeApi>('b');
        for (let i = 1; i <= 2; i += 1) {
          await b.call('crashSoon', `crash ${i}`);
          await log.waitFor('child-restarted', () => true, 10_000, i);
        }
        // One failure, one restart counted, even when it restarts a group.
        assert.equal(sup.state, 'running');
        await b.call('crashSoon', 'crash 3');
        const gaveUp = await log.waitFor('give-up');
        assert.equal(gaveUp.childId, 'b');
        assert.deepEqual(await sup.exited, { kind: 'shutdown' });
        assert.equal(sup.state, 'stopped');
        // Its children were stopped in reverse order: nothing of it runs.
        assert.deepEqual(
          log
            .of('child-terminated')
            .slice(-1)
            .map((e) => e.childId),
          ['a'],
        );
      }));
  }

  it('intensity 0: the first crash makes the supervisor give up', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', flags: { intensity: 0 }, children: [probe('a')] });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('a').call('crashSoon', 'boom');
      await log.waitFor('give-up');
      assert.equal(log.of('child-restarted').length, 0);
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    }));

  it('the window slides: crashes spaced wider than the period never exhaust the intensity', () =>
    withSystem(async (system) => {
      const periodMs = 150;
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 1, periodMs },
        children: [probe('a')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      for (let i = 1; i <= 4; i += 1) {
        await a.call('crashSoon', `crash ${i}`);
        await log.waitFor('child-restarted', () => true, 10_000, i);
        // Let the restart fall out of the window before the next crash (wide margin).
        await new Promise((resolve) => setTimeout(resolve, periodMs * 3));
      }
      assert.equal(log.of('give-up').length, 0);
      assert.deepEqual(await a.call('whoami'), { id: 'a', incarnation: 5 });
      await sup.stop();
    }));

  it('escalation through nested supervisors: a child supervisor that gives up is restarted by its parent', () =>
    withSystem(async (system) => {
      const root = new Supervisor(system, {
        id: 'root',
        flags: { strategy: 'one_for_one', intensity: 1, periodMs: 60_000 },
        children: [
          probe('sibling'),
          {
            id: 'middle',
            kind: 'supervisor',
            flags: { strategy: 'one_for_one', intensity: 0 },
            children: [probe('leaf')],
          },
        ],
      });
      const log = new EventLog(root.events);
      await root.start();
      const leaf = system.ref<ProbeApi>('leaf');
      await leaf.call('crashSoon', 'first');
      await log.waitFor('give-up', (e) => e.supervisor === 'middle');
      const restarted = await log.waitFor('child-restarted', (e) => e.supervisor === 'root');
      assert.equal(restarted.childId, 'middle');
      assert.deepEqual(await leaf.call('whoami'), { id: 'leaf', incarnation: 2 });
      // Again: now the root's own intensity (1) is spent, and it gives up too.
      await leaf.call('crashSoon', 'second');
      await log.waitFor('give-up', (e) => e.supervisor === 'root');
      assert.deepEqual(await root.exited, { kind: 'shutdown' });
      assert.deepEqual(
        log
          .of('child-terminated')
          .filter((e) => e.supervisor === 'root')
          .map((e) => e.childId),
        ['sibling'],
      );
    }));

  it('a transient child supervisor that gives up stays stopped (it exits with reason shutdown)', () =>
    withSystem(async (system) => {
      const root = new Supervisor(system, {
        id: 'root',
        children: [
          {
            id: 'middle',
            kind: 'supervisor',
            restart: 'transient',
            flags: { intensity: 0 },
            children: [probe('leaf')],
          },
        ],
      });
      const log = new EventLog(root.events);
      await root.start();
      await system.ref<ProbeApi>('leaf').call('crashSoon', 'x');
      const exited = await log.waitFor('child-exited', (e) => e.childId === 'middle');
      assert.deepEqual(exited.reason, { kind: 'shutdown' });
      await root.settled();
      assert.equal(root.whichChildren()[0]?.status, 'stopped');
      assert.equal(log.of('child-restarted').length, 0);
      await root.stop();
    }));
});

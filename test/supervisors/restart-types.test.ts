/**
 * OTP supervisor_SUITE: permanent_normal, transient_normal, transient_shutdown,
 * transient_abnormal, temporary_normal, temporary_abnormal, ... and
 * temporary_bystander. Each child ends itself in one of three ways and the
 * table says whether its supervisor restarts it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RestartType } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

type HowItEnds = 'normal' | 'shutdown' | 'abnormal';

const table: Array<{ restart: RestartType; ends: HowItEnds; restarted: boolean; specKept: boolean }> = [
  { restart: 'permanent', ends: 'normal', restarted: true, specKept: true },
  { restart: 'permanent', ends: 'shutdown', restarted: true, specKept: true },
  { restart: 'permanent', ends: 'abnormal', restarted: true, specKept: true },
  { restart: 'transient', ends: 'normal', restarted: false, specKept: true },
  { restart: 'transient', ends: 'shutdown', restarted: false, specKept: true },
  { restart: 'transient', ends: 'abnormal', restarted: true, specKept: true },
  { restart: 'temporary', ends: 'normal', restarted: false, specKept: false },
  { restart: 'temporary', ends: 'shutdown', restarted: false, specKept: false },
  { restart: 'temporary', ends: 'abnormal', restarted: false, specKept: false },
];

describe('restart types', () => {
  for (const row of table) {
    const verdict = row.restarted ? 'is restarted' : row.specKept ? 'stays stopped, spec kept' : 'is removed';
    it(`${row.restart}_${row.ends}: a ${row.restart} child that exits ${row.ends} ${verdict}`, () =>
      withSystem(async (system) => {
        const sup = new Supervisor(system, { id: 'root', children: [probe('c', { restart: row.restart })] });
        const log = new EventLog(sup.events);
        await sup.start();
        const c = system.ref<ProbeApi>('c');
        if (row.ends === 'abnormal') await c.call('crashSoon', 'boom');
        else await c.call('exitSelf', row.ends);
        await log.waitFor('child-exited');
        await sup.settled();
        if (row.restarted) {
          await log.waitFor('child-restarted');
          assert.deepEqual(await c.call('whoami'), { id: 'c', incarnation: 2 });
        } else {
          assert.equal(log.of('child-restarted').length, 0);
        }
        const children = sup.whichChildren();
        assert.equal(children.length, row.specKept ? 1 : 0);
        if (row.specKept) assert.equal(children[0]?.status, row.restarted ? 'running' : 'stopped');
        await sup.stop();
      }));
  }

  it('temporary_bystander: a temporary child stopped by a one_for_all restart is not restarted and its spec is removed', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { strategy: 'one_for_all', intensity: 5 },
        children: [probe('p'), probe('t', { restart: 'temporary' }), probe('q', { restart: 'transient' })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('p').call('crashSoon', 'boom');
      const restarted = await log.waitFor('child-restarted');
      assert.deepEqual(restarted.group, ['p', 'q']);
      assert.deepEqual(
        sup.whichChildren().map((c) => [c.id, c.status]),
        [
          ['p', 'running'],
          ['q', 'running'],
        ],
      );
      await sup.stop();
    }));
});

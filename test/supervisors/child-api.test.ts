/**
 * The rest of OTP's child API: get_childspec, which_child, check_childspecs,
 * and a child supervisor (an empty one included) addressed by id to start
 * children in it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChildNotFoundError,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
} from '../../runtime/index.js';
import { Supervisor, WORKER_DEFAULTS } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { PROBE_MODULE } from '../fixtures/probe.js';
import { probe, withSystem } from '../helpers.js';

describe('getChildSpec, whichChild, checkChildSpecs', () => {
  it('getChildSpec gives the spec with every default filled in; an unknown id is ChildNotFoundError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [{ id: 'a', module: PROBE_MODULE }],
      });
      await sup.start();
      assert.deepEqual(sup.getChildSpec('a'), {
        id: 'a',
        kind: 'worker',
        module: PROBE_MODULE,
        config: undefined,
        restart: WORKER_DEFAULTS.restart,
        significant: false,
        shutdown: WORKER_DEFAULTS.shutdown,
        heartbeat: WORKER_DEFAULTS.heartbeat,
        resourceLimits: undefined,
        startTimeoutMs: WORKER_DEFAULTS.startTimeoutMs,
      });
      assert.throws(() => sup.getChildSpec('zzz'), ChildNotFoundError);
      await sup.stop();
    }));

  it('getChildSpec of a simple_one_for_one instance is its template', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'pool',
        flags: { strategy: 'simple_one_for_one' },
        children: [probe('task')],
      });
      await sup.start();
      const one = await sup.startChild([1]);
      assert.equal(sup.getChildSpec(one.id).id, 'task');
      await sup.stop();
    }));

  it('whichChild gives one child as whichChildren would; an unknown id is ChildNotFoundError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a'), probe('b')] });
      await sup.start();
      assert.deepEqual(sup.whichChild('b'), sup.whichChildren()[1]);
      assert.equal(sup.whichChild('b').status, 'running');
      assert.throws(() => sup.whichChild('zzz'), ChildNotFoundError);
      await sup.stop();
    }));

  it('checkChildSpecs says which spec is bad without throwing, and undefined when all are good', () => {
    assert.equal(Supervisor.checkChildSpecs([probe('a'), probe('b')]), undefined);
    const bad = Supervisor.checkChildSpecs([probe('a'), { id: 'b', module: PROBE_MODULE, restart: 'never' }]);
    assert.ok(bad instanceof InvalidChildSpecError);
    assert.equal(bad.detail['field'], 'restart');
    assert.equal(bad.detail['childId'], 'b');
    assert.ok(Supervisor.checkChildSpecs([probe('a'), probe('a')]) instanceof InvalidChildSpecError);
    assert.ok(Supervisor.checkChildSpecs('a, b') instanceof InvalidChildSpecError);
    // Significant children are checked against the autoShutdown given, as OTP's check_childspecs/2.
    const significant = probe('a', { restart: 'transient', significant: true });
    assert.equal(Supervisor.checkChildSpecs([significant]), undefined);
    assert.equal(Supervisor.checkChildSpecs([significant], 'any_significant'), undefined);
    assert.ok(Supervisor.checkChildSpecs([significant], 'never') instanceof InvalidChildSpecError);
    assert.ok(
      Supervisor.checkChildSpecs([significant], 'maybe' as 'never') instanceof InvalidSupervisorFlagsError,
    );
  });
});

describe('addressing a child supervisor', () => {
  it('an empty child supervisor can be found by id and children started in it', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('a'), { id: 'controllers', kind: 'supervisor', children: [] }],
      });
      await sup.start();
      const controllers = sup.findSupervisor('controllers');
      assert.ok(controllers !== undefined);
      assert.equal(controllers.id, 'controllers');
      assert.equal(sup.findSupervisor('root'), sup);
      assert.equal(sup.findSupervisor('zzz'), undefined);
      await controllers.startChild(probe('c1'));
      assert.deepEqual(await system.ref<ProbeApi>('c1').call('whoami'), { id: 'c1', incarnation: 1 });
      assert.deepEqual(
        sup.whichChild('controllers').children?.map((c) => c.id),
        ['c1'],
      );
      assert.equal(sup.findSupervisorOf('c1'), controllers);
      await sup.stop();
    }));
});

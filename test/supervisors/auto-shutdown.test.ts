/**
 * OTP 24's significant children and auto_shutdown (supervisor_SUITE's
 * significant_* and auto_shutdown_* cases): a supervisor ends itself, with
 * reason shutdown, when a significant child ends by itself and is not
 * restarted (any_significant), or when the last one has (all_significant);
 * never when it stopped them itself. And OTP's validation rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidChildSpecError, InvalidSupervisorFlagsError } from '../../runtime/index.js';
import type { AutoShutdown, ChildSpec, SupervisorFlags } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

describe('significant children and autoShutdown', () => {
  it('any_significant: a transient significant child that exits normally shuts the supervisor down', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'unit',
        flags: { autoShutdown: 'any_significant' },
        children: [probe('helper'), probe('job', { restart: 'transient', significant: true })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('job').call('exitSelf', 'normal');
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
      assert.equal(log.of('auto-shutdown')[0]?.childId, 'job');
      assert.deepEqual(
        log.of('child-terminated').map((e) => e.childId),
        ['helper'],
      );
    }));

  it('any_significant: a transient significant child that crashes is restarted, not a shutdown', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'unit',
        flags: { autoShutdown: 'any_significant', intensity: 5 },
        children: [probe('job', { restart: 'transient', significant: true })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('job').call('crashSoon', 'boom');
      await log.waitFor('child-restarted');
      assert.equal(sup.state, 'running');
      await sup.stop();
    }));

  it('any_significant: a temporary significant child ends it however it ends', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'unit',
        flags: { autoShutdown: 'any_significant' },
        children: [probe('job', { restart: 'temporary', significant: true })],
      });
      await sup.start();
      await system.ref<ProbeApi>('job').call('crashSoon', 'boom');
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    }));

  it('all_significant: the supervisor shuts down when the last significant child has ended', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'unit',
        flags: { autoShutdown: 'all_significant' },
        children: [
          probe('a', { restart: 'temporary', significant: true }),
          probe('b', { restart: 'transient', significant: true }),
          probe('bystander'),
        ],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('a').call('exitSelf', 'normal');
      await log.waitFor('child-exited', (e) => e.childId === 'a');
      await sup.settled();
      assert.equal(sup.state, 'running', 'b is still running');
      await system.ref<ProbeApi>('b').call('exitSelf', 'shutdown');
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
      assert.equal(log.of('auto-shutdown')[0]?.childId, 'b');
    }));

  it('a significant child the supervisor terminates itself does not shut it down', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'unit',
        flags: { autoShutdown: 'any_significant' },
        children: [probe('job', { restart: 'transient', significant: true })],
      });
      await sup.start();
      await sup.terminateChild('job');
      await sup.settled();
      assert.equal(sup.state, 'running');
      await sup.stop();
    }));

  it('an auto-shutdown child supervisor is seen by its parent as a shutdown exit: a transient one stays stopped', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [
          {
            id: 'unit',
            kind: 'supervisor',
            restart: 'transient',
            flags: { autoShutdown: 'any_significant' },
            children: [probe('job', { restart: 'transient', significant: true })],
          },
        ],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('job').call('exitSelf', 'normal');
      const exited = await log.waitFor('child-exited', (e) => e.childId === 'unit');
      assert.deepEqual(exited.reason, { kind: 'shutdown' });
      assert.equal(exited.restarting, false);
      await sup.stop();
    }));

  it('simple_one_for_one with all_significant: shuts down when its last instance has ended', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'pool',
        flags: { strategy: 'simple_one_for_one', autoShutdown: 'all_significant' },
        children: [probe('task', { restart: 'temporary', significant: true })],
      });
      await sup.start();
      const one = await sup.startChild([]);
      const two = await sup.startChild([]);
      await system.ref<ProbeApi>(one.id).call('exitSelf', 'normal');
      await sup.settled();
      assert.equal(sup.state, 'running');
      await system.ref<ProbeApi>(two.id).call('exitSelf', 'normal');
      assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    }));
});

describe("OTP's validation of significant and autoShutdown", () => {
  const invalid: Array<[what: string, autoShutdown: AutoShutdown | undefined, spec: unknown]> = [
    ['significant with restart permanent', 'any_significant', probe('a', { significant: true })],
    [
      'significant under autoShutdown never',
      'never',
      probe('a', { restart: 'transient', significant: true }),
    ],
    [
      'significant under the default autoShutdown (never)',
      undefined,
      probe('a', { restart: 'temporary', significant: true }),
    ],
    [
      'significant not a boolean',
      'any_significant',
      { ...probe('a', { restart: 'transient' }), significant: 'yes' },
    ],
  ];
  for (const [what, autoShutdown, spec] of invalid) {
    it(`${what} is refused, naming significant`, () =>
      withSystem(async (system) => {
        const flags: SupervisorFlags = autoShutdown === undefined ? {} : { autoShutdown };
        assert.throws(
          () => new Supervisor(system, { id: 'root', flags, children: [spec as ChildSpec] }),
          (error: unknown) =>
            error instanceof InvalidChildSpecError && error.detail['field'] === 'significant',
        );
      }));
  }

  it('an unknown autoShutdown is refused, naming the flag', () =>
    withSystem(async (system) => {
      assert.throws(
        () =>
          new Supervisor(system, {
            id: 'root',
            flags: { autoShutdown: 'sometimes' as AutoShutdown },
            children: [],
          }),
        (error: unknown) =>
          error instanceof InvalidSupervisorFlagsError && error.detail['field'] === 'autoShutdown',
      );
    }));

  it('startChild checks significant against the supervisor it is for', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [] });
      await sup.start();
      await assert.rejects(
        sup.startChild(probe('a', { restart: 'transient', significant: true })),
        InvalidChildSpecError,
      );
      await sup.stop();
    }));
});

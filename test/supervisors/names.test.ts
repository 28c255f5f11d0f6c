/**
 * Child ids of workers are names in the runtime: `system.ref(id)` reaches
 * whoever holds the name. Starting a name that is taken fails with
 * AlreadyStartedError naming the holder (OTP's `{already_started, Pid}`),
 * whoever holds it, and leaves the holder alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyStartedError, FailedToStartChildError, TetherError } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { probe, withSystem } from '../helpers.js';

describe('a name that is taken', () => {
  it('startChild of a name served from the main thread fails with AlreadyStartedError, and the service keeps it', () =>
    withSystem(async (system) => {
      system.serve('x', { whoami: () => 'the service' });
      const sup = new Supervisor(system, { id: 'root', children: [] });
      await sup.start();
      const error = await sup.startChild(probe('x')).catch((e: unknown) => e);
      assert.ok(error instanceof AlreadyStartedError, String(error));
      assert.ok(TetherError.is(error, 'TETHER_ALREADY_STARTED'));
      assert.deepEqual(error.detail['holder'], { kind: 'serve' });
      assert.equal(error.detail['name'], 'x');
      assert.equal(await system.ref<{ whoami(): string }>('x').call('whoami'), 'the service');
      assert.equal(sup.countChildren().specs, 0);
      await sup.stop();
    }));

  it('startChild of a name another supervisor runs fails naming that supervisor, and the first keeps answering', () =>
    withSystem(async (system) => {
      const first = new Supervisor(system, { id: 'first', children: [probe('x')] });
      const second = new Supervisor(system, { id: 'second', children: [] });
      await first.start();
      await second.start();
      const error = await second.startChild(probe('x')).catch((e: unknown) => e);
      assert.ok(error instanceof AlreadyStartedError, String(error));
      assert.deepEqual(error.detail['holder'], { kind: 'supervisor', id: 'first' });
      assert.equal(error.detail['incarnation'], 1);
      assert.deepEqual(await system.ref<ProbeApi>('x').call('whoami'), { id: 'x', incarnation: 1 });
      // When the second is stopped, the first is untouched.
      await second.stop();
      assert.deepEqual(await system.ref<ProbeApi>('x').call('whoami'), { id: 'x', incarnation: 1 });
      await first.stop();
    }));

  it('startChild of a name this supervisor already runs fails with AlreadyStartedError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('x')] });
      await sup.start();
      const error = await sup.startChild(probe('x')).catch((e: unknown) => e);
      assert.ok(error instanceof AlreadyStartedError, String(error));
      assert.deepEqual(error.detail['holder'], { kind: 'supervisor', id: 'root' });
      await sup.stop();
    }));

  it('a tree whose static child has a taken name fails to start, the cause AlreadyStartedError', () =>
    withSystem(async (system) => {
      const first = new Supervisor(system, { id: 'first', children: [probe('x')] });
      await first.start();
      const second = new Supervisor(system, { id: 'second', children: [probe('y'), probe('x')] });
      const error = await second.start().catch((e: unknown) => e);
      assert.ok(error instanceof FailedToStartChildError, String(error));
      assert.ok(error.cause instanceof AlreadyStartedError);
      assert.deepEqual(await system.ref<ProbeApi>('x').call('whoami'), { id: 'x', incarnation: 1 });
      await first.stop();
    }));

  it('serving a name a supervisor runs fails with AlreadyStartedError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('x')] });
      await sup.start();
      assert.throws(
        () => system.serve('x', { whoami: () => 'impostor' }),
        (e: unknown) => e instanceof AlreadyStartedError && TetherError.is(e, 'TETHER_ALREADY_STARTED'),
      );
      assert.deepEqual(await system.ref<ProbeApi>('x').call('whoami'), { id: 'x', incarnation: 1 });
      await sup.stop();
    }));

  it('two trees starting one name at the same moment: exactly one gets it', () =>
    withSystem(async (system) => {
      const one = new Supervisor(system, { id: 'one', children: [] });
      const two = new Supervisor(system, { id: 'two', children: [] });
      await one.start();
      await two.start();
      const results = await Promise.allSettled([one.startChild(probe('x')), two.startChild(probe('x'))]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.ok(rejected?.reason instanceof AlreadyStartedError);
      assert.equal(system.whereis('x')?.incarnation, 1);
      await one.stop();
      await two.stop();
    }));

  it('a name is free again once its holder stopped it', () =>
    withSystem(async (system) => {
      const first = new Supervisor(system, { id: 'first', children: [probe('x')] });
      await first.start();
      await first.stop();
      assert.equal(system.whereis('x'), undefined);
      const second = new Supervisor(system, { id: 'second', children: [probe('x')] });
      await second.start();
      assert.deepEqual(system.whereis('x')?.holder, { kind: 'supervisor', id: 'second' });
      await second.stop();
    }));
});

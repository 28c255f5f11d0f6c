/**
 * Monitors and exit signals from outside, as OTP's erlang:monitor/2 and
 * exit/2: a monitor gives exactly one down notification for the
 * incarnation it watches (at once, noproc, when there is none); an exit
 * signal ends an actor from outside and its supervisor reacts as to any exit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DownNotice } from '../../runtime/index.js';
import { ActorDownError, describeExit, isNormalExit } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withDeadline, withSystem } from '../helpers.js';
import { Recorder } from '../recorder.js';

/** Collects a monitor's notices, so a test can wait for one and check that no second came. */
function notices(): { seen: Recorder<DownNotice>; onDown: (notice: DownNotice) => void } {
  const seen = new Recorder<DownNotice>();
  return { seen, onDown: (notice) => seen.push(notice) };
}

const first = (seen: Recorder<DownNotice>): Promise<DownNotice> =>
  seen.waitFor(() => true, {
    timeoutMs: 10_000,
    what: 'a down notice',
    summary: () => `${seen.items.length}`,
  });

describe('system.monitor', () => {
  it('gives exactly one down notice with the exit reason when the watched incarnation ends, none for the next', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', flags: { intensity: 5 }, children: [probe('a')] });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      const { seen, onDown } = notices();
      const monitor = system.monitor(a, onDown);
      assert.equal(monitor.incarnation, 1);
      await a.call('crashSoon', 'watched');
      const notice = await first(seen);
      assert.equal(notice.id, 'a');
      assert.equal(notice.incarnation, 1);
      assert.ok(notice.reason.kind === 'crash');
      assert.equal(notice.reason.error.message, 'watched');
      // The restart is a new incarnation: this monitor is done with.
      await log.waitFor('child-restarted');
      const { seen: second, onDown: onSecondDown } = notices();
      assert.equal(system.monitor('a', onSecondDown).incarnation, 2);
      await a.call('crashSoon', 'again');
      assert.equal((await first(second)).incarnation, 2);
      await log.waitFor('child-restarted', () => true, 10_000, 2);
      await sup.settled();
      assert.equal(seen.items.length, 1, 'one notice per incarnation');
      await sup.stop();
    }));

  it('a monitor of a name nobody holds gives noproc at once, and not synchronously', () =>
    withSystem(async (system) => {
      const { seen, onDown } = notices();
      const monitor = system.monitor('nobody', onDown);
      assert.equal(monitor.incarnation, undefined);
      assert.equal(seen.items.length, 0, 'not called from within monitor()');
      assert.deepEqual(await first(seen), {
        id: 'nobody',
        incarnation: undefined,
        reason: { kind: 'noproc' },
      });
    }));

  it('a monitor of an actor stopped for good gives noproc', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a', { restart: 'transient' })] });
      await sup.start();
      await sup.terminateChild('a');
      const { seen, onDown } = notices();
      system.monitor('a', onDown);
      assert.equal((await first(seen)).reason.kind, 'noproc');
      await sup.stop();
    }));

  it('an orderly stop by the supervisor is a shutdown notice', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const { seen, onDown } = notices();
      system.monitor('a', onDown);
      await sup.stop();
      assert.deepEqual((await first(seen)).reason, { kind: 'shutdown' });
    }));

  it('after demonitor, no notice comes', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a', { restart: 'temporary' })] });
      await sup.start();
      const { seen, onDown } = notices();
      const monitor = system.monitor('a', onDown);
      assert.equal(monitor.demonitor(), true);
      assert.equal(monitor.demonitor(), false);
      // A second monitor tells when the end has come and gone.
      const { seen: witness, onDown: onWitness } = notices();
      system.monitor('a', onWitness);
      await sup.terminateChild('a');
      await first(witness);
      assert.equal(seen.items.length, 0);
      await sup.stop();
    }));

  it('a service in the main thread can be monitored too', () =>
    withSystem(async (system) => {
      const service = system.serve('kernel', { hello: () => 'hi' });
      const { seen, onDown } = notices();
      assert.equal(system.monitor('kernel', onDown).incarnation, 0);
      service.close();
      assert.deepEqual(await first(seen), { id: 'kernel', incarnation: 0, reason: { kind: 'shutdown' } });
    }));
});

describe('system.exit', () => {
  it("'kill' ends the actor at once with reason killed, and its supervisor restarts a permanent child", () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('a', { config: { ignoreShutdown: true } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      const inFlight = a.callWith({ timeoutMs: 60_000 }, 'never').catch((e: unknown) => e);
      await a.call('whoami');
      const { seen, onDown } = notices();
      system.monitor(a, onDown);
      assert.equal(system.exit(a, 'kill'), true);
      assert.ok((await withDeadline(inFlight, 10_000, 'the call in flight')) instanceof ActorDownError);
      assert.deepEqual((await first(seen)).reason, { kind: 'killed' });
      const exited = await log.waitFor('child-exited');
      assert.deepEqual(exited.reason, { kind: 'killed' });
      assert.equal(exited.restarting, true);
      await log.waitFor('child-restarted');
      assert.deepEqual(await a.call('whoami'), { id: 'a', incarnation: 2 });
      await sup.stop();
    }));

  it('{ shutdown: term } stops the actor in order with that term: a transient child stays stopped', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a', { restart: 'transient' })] });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.equal(system.exit('a', { shutdown: { why: 'maintenance' } }), true);
      const exited = await log.waitFor('child-exited');
      assert.deepEqual(exited.reason, { kind: 'shutdown', term: { why: 'maintenance' } });
      assert.ok(isNormalExit(exited.reason));
      assert.equal(describeExit(exited.reason), 'shutdown ({"why":"maintenance"})');
      assert.equal(exited.restarting, false);
      await sup.settled();
      assert.equal(sup.whichChildren()[0]?.status, 'stopped');
      await sup.stop();
    }));

  it('{ error: term } ends the actor abnormally with that term: a transient child is restarted', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('a', { restart: 'transient' })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.equal(system.exit('a', { error: 'bad state' }), true);
      const exited = await log.waitFor('child-exited');
      assert.deepEqual(exited.reason, { kind: 'exit', term: 'bad state' });
      assert.equal(exited.restarting, true);
      await log.waitFor('child-restarted');
      await sup.stop();
    }));

  it("'normal' does nothing (OTP: a normal exit signal does not end a process), nor does a signal to nobody", () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      assert.equal(system.exit('a', 'normal'), false);
      assert.equal(system.exit('nobody', 'kill'), false);
      assert.deepEqual(await system.ref<ProbeApi>('a').call('whoami'), { id: 'a', incarnation: 1 });
      await sup.stop();
    }));

  it('an actor may end itself with { shutdown: term }', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a', { restart: 'transient' })] });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('a').call('exitSelf', { shutdown: 'done here' });
      const exited = await log.waitFor('child-exited');
      assert.deepEqual(exited.reason, { kind: 'shutdown', term: 'done here' });
      assert.equal(exited.restarting, false);
      await sup.stop();
    }));
});

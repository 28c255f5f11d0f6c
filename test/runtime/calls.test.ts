import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ActorDownError,
  CallTimeoutError,
  RemoteError,
  StashFullError,
  TetherError,
  UnknownMethodError,
} from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

describe('calls through an ActorRef', () => {
  it('a call resolves with the handler result, and state lives in the actor', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      assert.deepEqual(await a.call('whoami'), { id: 'a', incarnation: 1 });
      assert.equal(await a.call('add', 2), 2);
      assert.equal(await a.call('add', 3), 5);
      assert.deepEqual(await a.call('echo', { nested: [1, 'two', null] }), { nested: [1, 'two', null] });
      await sup.stop();
    }));

  it("a handler's error reaches the caller with its name, code and stack", () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const error = await system
        .ref<ProbeApi>('a')
        .call('fail', 'bad input', 'E_BAD_INPUT')
        .then(
          () => assert.fail('resolved'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof RemoteError);
      assert.equal(error.code, 'E_BAD_INPUT');
      assert.equal(error.name, 'ProbeError');
      assert.match(error.stack ?? '', /probe\.(ts|js)/);
      // The actor is still there: a handler error is the caller's business, not a crash.
      assert.deepEqual(await system.ref<ProbeApi>('a').call('whoami'), { id: 'a', incarnation: 1 });
      await sup.stop();
    }));

  it('a call to a method the actor does not have rejects with UnknownMethodError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const ref = system.ref<{ nope(): void }>('a');
      await assert.rejects(ref.call('nope'), UnknownMethodError);
      await sup.stop();
    }));

  it('a call past its deadline rejects with CallTimeoutError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const error = await system
        .ref<ProbeApi>('a')
        .callWith({ timeoutMs: 50 }, 'never')
        .catch((e: unknown) => e);
      assert.ok(error instanceof CallTimeoutError);
      assert.equal(error.code, 'TETHER_CALL_TIMEOUT');
      await sup.stop();
    }));

  it('a call in flight when its callee crashes rejects with ActorDownError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      const inFlight = a.callWith({ timeoutMs: 30_000 }, 'never');
      await a.call('crashLater', 20);
      const error = await inFlight.catch((e: unknown) => e);
      assert.ok(error instanceof ActorDownError, String(error));
      assert.ok(TetherError.is(error, 'TETHER_ACTOR_DOWN'));
      await log.waitFor('child-restarted');
      await sup.stop();
    }));

  it('calls made while the actor restarts wait and reach the new incarnation', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { backoff: { minMs: 200, maxMs: 200, jitter: 0 } },
        children: [probe('a')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      await a.call('crashSoon', 'boom');
      await log.waitFor('backoff');
      // The restart is 200 ms away: these wait in the stash.
      const waiting = [a.call('whoami'), a.call('add', 1), a.call('add', 2)];
      const [who, one, three] = await Promise.all(waiting);
      assert.deepEqual(who, { id: 'a', incarnation: 2 });
      assert.equal(one, 1);
      assert.equal(three, 3);
      await sup.stop();
    }));

  it('beyond the stash limit, calls to a restarting actor reject with StashFullError', () =>
    withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { backoff: { minMs: 300, maxMs: 300, jitter: 0 } },
          children: [probe('a')],
        });
        const log = new EventLog(sup.events);
        await sup.start();
        const a = system.ref<ProbeApi>('a');
        await a.call('crashSoon', 'boom');
        await log.waitFor('backoff');
        const calls = Array.from({ length: 5 }, (_, i) => a.call('add', i));
        const results = await Promise.allSettled(calls);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(rejected.length, 2);
        for (const r of rejected) assert.ok(r.reason instanceof StashFullError);
        await sup.stop();
      },
      { stashLimit: 3 },
    ));

  it('a call to an actor that is stopped for good rejects at once with ActorDownError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a', { restart: 'transient' })] });
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      await sup.terminateChild('a');
      const started = Date.now();
      await assert.rejects(a.callWith({ timeoutMs: 60_000 }, 'whoami'), ActorDownError);
      // Far from the 60 s deadline, with room for a loaded machine.
      assert.ok(Date.now() - started < 10_000, 'rejected promptly, not at the deadline');
      // Started again, the same ref reaches it.
      await sup.restartChild('a');
      assert.deepEqual(await a.call('whoami'), { id: 'a', incarnation: 2 });
      await sup.stop();
    }));

  it('actors call each other directly, and a peer ref follows its target across a restart', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a'), probe('b')] });
      const log = new EventLog(sup.events);
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      const b = system.ref<ProbeApi>('b');
      assert.deepEqual(await a.call('callPeer', 'b', 'whoami'), { id: 'b', incarnation: 1 });
      await b.call('crashSoon', 'boom');
      await log.waitFor('child-restarted', (e) => e.childId === 'b');
      assert.deepEqual(await a.call('callPeer', 'b', 'whoami'), { id: 'b', incarnation: 2 });
      await a.call('castPeer', 'b', 'add', 7);
      // Order holds per sender and receiver (as in Erlang): a's call after its cast sees it.
      assert.equal(await a.call('callPeer', 'b', 'add', 0), 7);
      await sup.stop();
    }));

  it('the trace context travels with a call, and on to the calls the handler makes', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a'), probe('b')] });
      await sup.start();
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const a = system.ref<ProbeApi>('a');
      assert.equal(await a.callWith({ traceparent }, 'traceparent'), traceparent);
      assert.equal(await a.callWith({ traceparent }, 'callPeer', 'b', 'traceparent'), traceparent);
      assert.equal(await a.call('traceparent'), '');
      await sup.stop();
    }));

  it('a cast runs the handler without a reply; casts keep their order', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      for (let i = 1; i <= 100; i += 1) a.cast('add', i);
      assert.equal(await a.call('add', 0), 5050);
      await sup.stop();
    }));

  it('actors call a service served from the main thread like any peer', () =>
    withSystem(async (system) => {
      const seen: string[] = [];
      const kernel = system.serve('kernel', {
        hello: (from: string) => {
          seen.push(from);
          return `hello ${from}`;
        },
      });
      const sup = new Supervisor(system, { id: 'root', children: [probe('a')] });
      await sup.start();
      const a = system.ref<ProbeApi>('a');
      assert.equal(await a.call('callPeer', 'kernel', 'hello', 'a'), 'hello a');
      assert.deepEqual(seen, ['a']);
      kernel.close();
      await assert.rejects(a.call('callPeer', 'kernel', 'hello', 'a'), ActorDownError);
      await sup.stop();
    }));
});

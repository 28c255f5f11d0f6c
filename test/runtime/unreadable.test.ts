/**
 * A message that crosses threads but cannot be read on arrival (the
 * receiver's `messageerror`: here, a value nested deeper than the receiving
 * thread's stack can deserialize). The call it carried, or answered, must
 * settle at once with a typed error, and no other call with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageUnreadableError, TetherError } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { probe, withSystem } from '../helpers.js';

/** Deep enough that no default stack (the main thread's, a worker's 4 MB) can read it back. */
const TOO_DEEP = 100_000;
/** A worker that can build and send such a value. */
const BIG_STACK = { resourceLimits: { stackSizeMb: 64 } };

function track<T>(promise: Promise<T>): { settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

describe('messages that cannot be read on arrival', () => {
  it('a reply the caller cannot read rejects that call at once with MessageUnreadableError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('big', BIG_STACK)] });
      await sup.start();
      const big = system.ref<ProbeApi>('big');
      const running = track(big.callWith({ timeoutMs: 30_000 }, 'never'));
      const started = Date.now();
      const error = await big.callWith({ timeoutMs: 30_000 }, 'deep', TOO_DEEP).catch((e: unknown) => e);
      const tookMs = Date.now() - started;
      assert.ok(error instanceof MessageUnreadableError, String(error));
      assert.ok(TetherError.is(error, 'TETHER_MESSAGE_UNREADABLE'));
      assert.ok(tookMs < 5000, `settled after ${tookMs} ms, not at the 30 s deadline`);
      // A call still running in the actor was not in the lost packet: it is left alone.
      assert.equal(running.settled, false);
      assert.deepEqual(await big.call('whoami'), { id: 'big', incarnation: 1 });
      await sup.stop();
    }));

  it('a call the actor cannot read rejects at once with MessageUnreadableError', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('small'), probe('big', BIG_STACK)],
      });
      await sup.start();
      const big = system.ref<ProbeApi>('big');
      const started = Date.now();
      const error = await big
        .callWith({ timeoutMs: 30_000 }, 'callPeerDeep', 'small', 'echo', TOO_DEEP)
        .catch((e: unknown) => e);
      const tookMs = Date.now() - started;
      // The call big made to small failed with the typed error, and big passed it on.
      assert.ok(TetherError.is(error, 'TETHER_MESSAGE_UNREADABLE'), String(error));
      assert.ok(tookMs < 5000, `settled after ${tookMs} ms`);
      assert.equal(await big.call('callPeer', 'small', 'add', 2), 2, 'small still serves big');
      await sup.stop();
    }));
});

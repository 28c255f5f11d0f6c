/**
 * A supervisor that is killed (kill(), stop('brutal_kill'), or a stop(ms)
 * that runs out) takes its children with it at once: their callers learn
 * it at once, as they do after an orderly stop, instead of waiting out
 * their deadlines; casts to them are dropped and counted, never stashed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActorDownError } from '../../runtime/index.js';
import type { ActorSystem } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { probe, withDeadline, withSystem } from '../helpers.js';

/** Far longer than any test here may take: a call that waits for it has not been settled by the kill. */
const LONG_DEADLINE_MS = 60_000;
/**
 * A wide margin for "at once" on a shared machine (a loaded 2-core one can take seconds to end
 * worker threads), and still far below the deadline.
 */
const AT_ONCE_MS = 10_000;

type HowKilled = 'kill()' | "stop('brutal_kill')" | 'stop(ms) that runs out';

async function killIt(sup: Supervisor, how: HowKilled): Promise<void> {
  if (how === 'kill()') sup.kill();
  else if (how === "stop('brutal_kill')") void sup.stop('brutal_kill');
  // The child ignores its shutdown ('infinity'), so only the supervisor's own timeout ends it.
  else void sup.stop(100);
  assert.deepEqual(await withDeadline(sup.exited, AT_ONCE_MS * 2, 'supervisor exit'), { kind: 'killed' });
}

function tree(system: ActorSystem): Supervisor {
  return new Supervisor(system, {
    id: 'doomed',
    children: [
      probe('a', { shutdown: 'infinity', config: { ignoreShutdown: true }, heartbeat: false }),
      probe('b'),
    ],
  });
}

describe('calls to the children of a killed supervisor', () => {
  for (const how of ['kill()', "stop('brutal_kill')", 'stop(ms) that runs out'] as const) {
    it(`after ${how}, calls in flight and calls made afterwards reject with ActorDownError at once`, () =>
      withSystem(async (system) => {
        const sup = tree(system);
        await sup.start();
        const a = system.ref<ProbeApi>('a');
        const b = system.ref<ProbeApi>('b');
        // Caught at once: they must not reject unhandled while the test waits for something else.
        const inFlight = [
          a.callWith({ timeoutMs: LONG_DEADLINE_MS }, 'never').catch((e: unknown) => e),
          b.callWith({ timeoutMs: LONG_DEADLINE_MS }, 'never').catch((e: unknown) => e),
        ];
        // Let the calls reach the workers before the kill.
        assert.deepEqual(await b.call('whoami'), { id: 'b', incarnation: 1 });
        await killIt(sup, how);
        for (const call of inFlight) {
          const error = await withDeadline(call, AT_ONCE_MS, 'in-flight call');
          assert.ok(error instanceof ActorDownError, String(error));
        }
        for (const ref of [a, b]) {
          const error = await withDeadline(
            ref.callWith({ timeoutMs: LONG_DEADLINE_MS }, 'whoami').catch((e: unknown) => e),
            AT_ONCE_MS,
            'call after the kill',
          );
          assert.ok(error instanceof ActorDownError, String(error));
        }
      }));
  }

  it('casts to a child of a killed supervisor are dropped and counted, not stashed', () =>
    withSystem(async (system) => {
      const sup = tree(system);
      await sup.start();
      const b = system.ref<ProbeApi>('b');
      sup.kill();
      await sup.exited;
      const before = b.droppedCasts;
      for (let i = 0; i < 5; i += 1) b.cast('add', 1);
      assert.equal(b.droppedCasts - before, 5);
      // Started again by another tree, the name gets none of those casts.
      const again = new Supervisor(system, { id: 'again', children: [probe('b')] });
      await again.start();
      assert.equal(await b.call('add', 0), 0);
      await again.stop();
    }));

  it('a call from another actor to a child of a killed supervisor rejects with ActorDownError at once', () =>
    withSystem(async (system) => {
      const doomed = tree(system);
      const other = new Supervisor(system, { id: 'other', children: [probe('caller')] });
      await doomed.start();
      await other.start();
      const caller = system.ref<ProbeApi>('caller');
      // The peer ref is wired on its first use; whoami makes sure it is before the kill.
      assert.deepEqual(await caller.call('callPeer', 'b', 'whoami'), { id: 'b', incarnation: 1 });
      const inFlight = caller
        .callWith({ timeoutMs: LONG_DEADLINE_MS }, 'callPeer', 'b', 'never')
        .catch((e: unknown) => e);
      await caller.call('echo', 'the peer call has gone out');
      doomed.kill();
      const error = await withDeadline(inFlight, AT_ONCE_MS, 'peer call in flight');
      assert.ok(error instanceof ActorDownError, String(error));
      const later = await withDeadline(
        caller.call('callPeer', 'b', 'whoami').catch((e: unknown) => e),
        AT_ONCE_MS,
        'peer call after the kill',
      );
      assert.ok(later instanceof ActorDownError, String(later));
      await other.stop();
    }));
});

/**
 * Hang detection must never mistake a busy main thread for a hung actor:
 * at the tightest heartbeat the runtime allows, idle actors stay up while
 * the main thread is blocked 30 ms out of every 100 ms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEARTBEAT_FLOORS } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withSystem } from '../helpers.js';

const ACTORS = 4;
const RUN_MS = 10_000;

/** Blocks this thread for `ms` (a busy loop: no timer, no message is handled meanwhile). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('heartbeat floors', () => {
  it('idle actors at the tightest allowed heartbeat, main thread blocked 30 ms of every 100 ms for 10 s: no hang detected', () => {
    let beats = 0;
    return withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { intensity: 100, periodMs: 60_000 },
          children: Array.from({ length: ACTORS }, (_, i) =>
            probe(`idle-${i}`, { heartbeat: { ...HEARTBEAT_FLOORS } }),
          ),
        });
        const log = new EventLog(sup.events);
        await sup.start();
        const until = performance.now() + RUN_MS;
        while (performance.now() < until) {
          block(30);
          await new Promise((resolve) => setTimeout(resolve, 70));
        }
        assert.deepEqual(
          log.of('child-exited').map((e) => e.reason),
          [],
          'no actor was taken for hung',
        );
        // The heartbeat really ran all along (a test that pinged nobody would prove nothing):
        // at one ping per interval, far more than one per actor per second.
        assert.ok(beats >= (ACTORS * RUN_MS) / 1000, `only ${beats} heartbeats answered`);
        for (let i = 0; i < ACTORS; i += 1) {
          assert.deepEqual(await system.ref<ProbeApi>(`idle-${i}`).call('whoami'), {
            id: `idle-${i}`,
            incarnation: 1,
          });
        }
        await sup.stop();
      },
      { onHeartbeat: () => (beats += 1) },
    );
  });

  it('a main thread blocked longer than the heartbeat timeout right after a ping does not make an idle actor look hung', () => {
    let blocks = 0;
    let onBeat = (): void => undefined;
    return withSystem(
      async (system) => {
        const sup = new Supervisor(system, {
          id: 'root',
          flags: { intensity: 100, periodMs: 60_000 },
          children: [probe('idle', { heartbeat: { ...HEARTBEAT_FLOORS } })],
        });
        const log = new EventLog(sup.events);
        const blocked = new Promise<void>((resolve) => {
          onBeat = () => {
            if (blocks >= 3) return resolve();
            blocks += 1;
            // A timer of the same duration, set in the same turn just after the host sets its
            // next ping, fires right after that ping goes out; the block then runs in the check
            // phase, before the answer (already on its way) is taken from the queue.
            queueMicrotask(() =>
              setTimeout(
                () => setImmediate(() => block(HEARTBEAT_FLOORS.timeoutMs * 2)),
                HEARTBEAT_FLOORS.intervalMs,
              ),
            );
          };
        });
        await sup.start();
        await blocked;
        await sup.settled();
        assert.deepEqual(
          log.of('child-exited').map((e) => e.reason),
          [],
        );
        await sup.stop();
      },
      { onHeartbeat: () => onBeat() },
    );
  });

  it('an actor that really hangs is still detected at the floor', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('a', { heartbeat: { ...HEARTBEAT_FLOORS } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      await system.ref<ProbeApi>('a').call('hang');
      const exited = await log.waitFor('child-exited');
      assert.deepEqual(exited.reason, { kind: 'hung', timeoutMs: HEARTBEAT_FLOORS.timeoutMs });
      await sup.stop();
    }));
});

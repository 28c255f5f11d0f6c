import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watchdog, silentReason, type WatchdogSettings } from '../../../actors/watchdog/watchdog.js';
import { CommandTimeoutError, type KernelState } from '../../../contracts/actors.js';
import { ActorDownError } from '../../../runtime/errors.js';
import { FakeKernel, FakeTimers, RecordingLog, drain, stateOf } from '../commander/fakes.js';

/** Stands in for the commander: each ping waits for the test to answer, or fails at its timeout. */
class FakePing {
  readonly calls: { timeoutMs: number; answer: () => void; fail: (error: Error) => void }[] = [];
  /** When true, a ping nobody answers rejects with CommandTimeoutError at its timeout (as the commander does). */
  timeoutUnanswered = true;
  constructor(readonly timers: FakeTimers) {}

  readonly ping = (timeoutMs: number): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let settled = false;
      const settle = (how: () => void): void => {
        if (settled) return;
        settled = true;
        how();
      };
      const timer = this.timeoutUnanswered
        ? this.timers.schedule(timeoutMs, () =>
            settle(() => reject(new CommandTimeoutError('NONE', 1, timeoutMs))),
          )
        : undefined;
      this.calls.push({
        timeoutMs,
        answer: () => settle(() => (timer?.cancel(), resolve(undefined))),
        fail: (error) => settle(() => (timer?.cancel(), reject(error))),
      });
    });
}

interface Rig {
  watchdog: Watchdog;
  timers: FakeTimers;
  kernel: FakeKernel;
  pings: FakePing;
  reports: Record<string, unknown>[];
  setState(state: KernelState): void;
}

const SETTINGS: WatchdogSettings = { idleMs: 5000, timeoutMs: 3000 };

function rig(state: (now: number) => KernelState = (now) => stateOf('Synchronized', 1, now)): Rig {
  const timers = new FakeTimers();
  const kernel = new FakeKernel();
  const pings = new FakePing(timers);
  const reports: Record<string, unknown>[] = [];
  const watchdog = new Watchdog(SETTINGS, {
    ping: pings.ping,
    kernel: {
      state: () => kernel.state(),
      disconnect: (generation, reason) => kernel.disconnect(generation, reason),
      report: (facts) => reports.push(facts),
    },
    log: new RecordingLog(),
    timers,
  });
  const setState = (next: KernelState): void => {
    kernel.current = next;
    watchdog.onKernelState(next);
  };
  setState(state(timers.now()));
  return { watchdog, timers, kernel, pings, reports, setState };
}

test('a link idle for idleMs while Synchronized gets a NONE with the watchdog timeout', async () => {
  const { watchdog, timers, pings } = rig();
  await timers.advance(4999);
  assert.equal(pings.calls.length, 0);
  await timers.advance(1);
  assert.equal(pings.calls.length, 1);
  assert.equal(pings.calls[0]!.timeoutMs, 3000);
  watchdog.terminate();
});

test('activity postpones the check to idleMs after the last thing received', async () => {
  const { watchdog, timers, pings } = rig();
  await timers.advance(3000);
  watchdog.onActivity(1, timers.now());
  await timers.advance(4999);
  assert.equal(pings.calls.length, 0);
  await timers.advance(1);
  assert.equal(pings.calls.length, 1);
  watchdog.terminate();
});

test('no answer within the timeout asks the kernel once to disconnect that generation', async () => {
  const { watchdog, timers, kernel, pings, setState, reports } = rig(() =>
    stateOf('Synchronized', 4, 1_000_000),
  );
  await timers.advance(5000 + 2999);
  assert.equal(pings.calls.length, 1);
  assert.deepEqual(kernel.disconnects, []);
  await timers.advance(1);
  assert.deepEqual(kernel.disconnects, [{ generation: 4, reason: silentReason(3000) }]);
  assert.equal(watchdog.stats.disconnectsAsked, 1);
  assert.match(watchdog.health().lastCheck ?? '', /TETHER_COMMAND_TIMEOUT/);
  assert.equal(reports.length, 1);
  // Its Disconnected state is on the way: no second check meanwhile.
  await timers.advance(1000);
  assert.equal(pings.calls.length, 1);
  // The kernel moves to Disconnected: no further checks, no further requests.
  setState(kernel.current);
  assert.equal(kernel.current.phase.name, 'Disconnected');
  await timers.advance(60_000);
  assert.equal(pings.calls.length, 1);
  assert.equal(kernel.disconnects.length, 1);
  assert.equal(timers.active, 0);
});

test('a silent controller is noticed within idleMs + timeoutMs of the last activity', async () => {
  const { timers, kernel } = rig(() => stateOf('Synchronized', 1, 1_000_000));
  await timers.advance(8000);
  assert.equal(kernel.disconnects.length, 1);
});

test('an answered check asks for no disconnect and the next one comes idleMs after the answer', async () => {
  const { watchdog, timers, kernel, pings } = rig();
  await timers.advance(5000);
  await timers.advance(20);
  pings.calls[0]!.answer();
  await drain();
  assert.match(watchdog.health().lastCheck ?? '', /answered in 20 ms/);
  assert.equal(watchdog.health().lastReceivedAt, timers.now());
  await timers.advance(4999);
  assert.equal(pings.calls.length, 1);
  await timers.advance(1);
  assert.equal(pings.calls.length, 2);
  pings.calls[1]!.answer();
  await timers.advance(1000);
  assert.deepEqual(kernel.disconnects, []);
  watchdog.terminate();
});

test('only one check runs at a time', async () => {
  const { watchdog, timers, pings } = rig();
  pings.timeoutUnanswered = false; // a ping that hangs (the actor call's own deadline is elsewhere)
  await timers.advance(60_000);
  assert.equal(pings.calls.length, 1);
  assert.equal(watchdog.stats.checking, true);
  watchdog.terminate();
});

test('a check that fails in any other way (the commander down) also asks for a disconnect', async () => {
  const { timers, kernel, pings } = rig();
  await timers.advance(5000);
  pings.calls[0]!.fail(new ActorDownError('commander', 'restarting'));
  await drain();
  assert.deepEqual(
    kernel.disconnects.map((d) => d.generation),
    [1],
  );
});

test('nothing happens while Disconnected or Connected (synchronization watches a link being connected)', async () => {
  for (const name of ['Disconnected', 'Connected'] as const) {
    const { watchdog, timers, kernel, pings } = rig((now) => stateOf(name, 1, now));
    await timers.advance(60_000);
    assert.equal(pings.calls.length, 0, name);
    assert.deepEqual(kernel.disconnects, [], name);
    assert.equal(timers.active, 0, name);
    assert.equal(watchdog.health().healthy, false, name);
  }
});

test('a link held Acknowledged (incompatible firmware, or between sync steps) is checked like a Synchronized one', async () => {
  const { watchdog, timers, kernel, pings } = rig((now) => stateOf('Acknowledged', 1, now));
  await timers.advance(4999);
  assert.equal(pings.calls.length, 0);
  await timers.advance(1);
  assert.equal(pings.calls.length, 1);
  assert.equal(watchdog.health().healthy, false, 'healthy still means Synchronized');
  await timers.advance(3000);
  await drain();
  assert.deepEqual(
    kernel.disconnects.map((d) => d.generation),
    [1],
  );
});

test('leaving Synchronized stops the timer, and the idle time counts again from the next Synchronized', async () => {
  const { watchdog, timers, pings, setState } = rig();
  await timers.advance(4000);
  setState(stateOf('Disconnected', 1, 'peer closed'));
  assert.equal(timers.active, 0);
  setState(stateOf('Connected', 2, timers.now()));
  await timers.advance(10_000);
  setState(stateOf('Synchronized', 2, timers.now()));
  await timers.advance(4999);
  assert.equal(pings.calls.length, 0);
  await timers.advance(1);
  assert.equal(pings.calls.length, 1);
  watchdog.terminate();
});

test('activity of a stale generation is ignored', async () => {
  const { watchdog, timers, pings } = rig((now) => stateOf('Synchronized', 2, now));
  await timers.advance(3000);
  watchdog.onActivity(1, timers.now());
  assert.equal(watchdog.health().lastReceivedAt, null);
  await timers.advance(2000);
  assert.equal(pings.calls.length, 1, 'the check came idleMs after Synchronized began');
  watchdog.terminate();
});

test('activity of a newer generation that comes before its state counts once the state arrives', async () => {
  const { watchdog, timers, pings, setState } = rig((now) => stateOf('Acknowledged', 2, now));
  const syncedAt = timers.now();
  watchdog.onActivity(3, syncedAt + 10); // newer than the view: kept, not counted yet
  setState(stateOf('Disconnected', 2, 'reset'));
  setState(stateOf('Connected', 3, syncedAt));
  setState(stateOf('Synchronized', 3, syncedAt));
  await timers.advance(3000);
  watchdog.onActivity(3, timers.now());
  assert.equal(watchdog.health().lastReceivedAt, timers.now());
  await timers.advance(4999);
  assert.equal(pings.calls.length, 0);
  await timers.advance(1);
  assert.equal(pings.calls.length, 1);
  watchdog.terminate();
});

test('a check cut short because the link went away asks for no disconnect', async () => {
  const { timers, kernel, pings, setState } = rig();
  await timers.advance(5000);
  setState(stateOf('Disconnected', 1, 'peer closed'));
  pings.calls[0]!.fail(new CommandTimeoutError('NONE', 1, 3000));
  await drain();
  assert.deepEqual(kernel.disconnects, []);
});

test('health is healthy exactly while Synchronized and carries the facts', async () => {
  const { watchdog, timers, setState } = rig((now) => stateOf('Connected', 1, now));
  assert.deepEqual(watchdog.health(), {
    healthy: false,
    phase: 'Connected',
    lastReceivedAt: null,
    lastCheck: null,
  });
  watchdog.onActivity(1, timers.now());
  setState(stateOf('Synchronized', 1, timers.now()));
  assert.deepEqual(watchdog.health(), {
    healthy: true,
    phase: 'Synchronized',
    lastReceivedAt: timers.now(),
    lastCheck: null,
  });
  watchdog.terminate();
  assert.equal(timers.active, 0);
});

test('a watchdog started late catches up with the kernel state', async () => {
  const { watchdog, timers, kernel, pings } = rig((now) => stateOf('Disconnected', 0, now));
  kernel.current = stateOf('Synchronized', 1, timers.now());
  assert.equal(await watchdog.refreshState(), true);
  assert.equal(watchdog.health().phase, 'Synchronized');
  await timers.advance(5000);
  assert.equal(pings.calls.length, 1);
  watchdog.terminate();
});

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { startWatchdogPings, watchdogIntervalMs, type WatchdogTimers } from '../../system/watchdog.js';
import { startNotifyReceiver } from './notify-receiver.js';
import { runNode } from './run-node.js';

const NOTIFY_RUN = new URL('./fixtures/notify-run.js', import.meta.url);

/** Timers driven by hand: `fire()` runs the interval callback as the loop would. */
function manualTimers(): WatchdogTimers & { fire(): void; active(): boolean; ms: number | undefined } {
  let callback: (() => void) | undefined;
  const timers = {
    ms: undefined as number | undefined,
    setInterval: (fn: () => void, ms: number) => {
      callback = fn;
      timers.ms = ms;
      return 1;
    },
    clearInterval: () => {
      callback = undefined;
    },
    fire: () => callback?.(),
    active: () => callback !== undefined,
  };
  return timers;
}

describe('watchdog pings', () => {
  test('the interval is half of WATCHDOG_USEC, for this process or when no process is named', () => {
    const cases: Array<[NodeJS.ProcessEnv, number | undefined]> = [
      [{ WATCHDOG_USEC: '30000000' }, 15_000],
      [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }, 15_000],
      [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '' }, 15_000],
      [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, undefined],
      [{ WATCHDOG_USEC: '0' }, undefined],
      [{ WATCHDOG_USEC: 'soon' }, undefined],
      [{ WATCHDOG_USEC: '' }, undefined],
      [{}, undefined],
      [{ WATCHDOG_USEC: '1000' }, 1],
    ];
    for (const [env, expected] of cases) {
      assert.equal(watchdogIntervalMs(env, 4242), expected, JSON.stringify(env));
    }
  });

  test('pings at once and on every tick while healthy, none while unhealthy, none after stop', () => {
    const timers = manualTimers();
    let healthy = true;
    let sent = 0;
    const pings = startWatchdogPings({
      intervalMs: 15_000,
      healthy: () => healthy,
      send: () => sent++,
      timers,
    });
    assert.equal(timers.ms, 15_000);
    assert.equal(sent, 1);
    timers.fire();
    assert.equal(sent, 2);
    healthy = false;
    timers.fire();
    timers.fire();
    assert.equal(sent, 2);
    healthy = true;
    timers.fire();
    assert.equal(sent, 3);
    pings.stop();
    assert.equal(timers.active(), false);
    pings.stop();
  });

  test('a health check that throws counts as unhealthy', () => {
    const timers = manualTimers();
    let sent = 0;
    startWatchdogPings({
      intervalMs: 10,
      healthy: () => {
        throw new Error('broken');
      },
      send: () => sent++,
      timers,
    }).stop();
    assert.equal(sent, 0);
  });

  test('the pings stop while the main loop is blocked, and resume after', async () => {
    const socket = await startNotifyReceiver('path');
    try {
      const pingTimes = (): number[] =>
        socket.messages.filter((m) => m.message === 'WATCHDOG=1').map((m) => m.at);
      const gapsOf = (pings: number[]): number[] => pings.slice(1).map((at, i) => at - (pings[i] ?? at));
      // 100 ms pings. The test, not a clock in the process, says when the 1200 ms block comes and
      // when to stop: after pings are seen before it, and after pings are seen after it (a fixed
      // schedule left a loaded machine too few of either).
      let child: ChildProcess | undefined;
      const running = runNode(NOTIFY_RUN, ['signal', '1200'], {
        env: { ...process.env, NOTIFY_SOCKET: socket.socket, WATCHDOG_USEC: '200000', WATCHDOG_PID: '' },
        timeoutMs: 60_000,
        onSpawn: (spawned) => (child = spawned),
      });
      await socket.waitFor(() => pingTimes().length >= 4, 20_000);
      child?.kill('SIGUSR2');
      const before = pingTimes().length;
      const blockedGap = (): number => gapsOf(pingTimes().slice(before - 1)).findIndex((gap) => gap >= 900);
      await socket.waitFor(() => {
        const at = blockedGap();
        return at >= 0 && pingTimes().length - (before - 1) - at >= 5;
      }, 20_000);
      child?.kill('SIGHUP');
      const run = await running;
      assert.equal(run.code, 0, run.stderr);
      await socket.waitFor((m) => m.some((x) => x.message.startsWith('STOPPING=1')));
      const pings = pingTimes();
      const gaps = gapsOf(pings);
      const longest = Math.max(...gaps);
      const longestAt = gaps.indexOf(longest);
      // Wide margins: the block lasts 1200 ms, ordinary gaps are ~100 ms.
      assert.ok(longest >= 900, `no gap while blocked: ${gaps.map(Math.round).join(' ')}`);
      assert.ok(longestAt >= 2, `too few pings before the block: ${gaps.map(Math.round).join(' ')}`);
      assert.ok(
        gaps.length - longestAt >= 3,
        `too few pings after the block: ${gaps.map(Math.round).join(' ')}`,
      );
      const others = gaps.filter((_, i) => i !== longestAt).sort((a, b) => a - b);
      const median = others[Math.floor(others.length / 2)] ?? 0;
      assert.ok(median < 400, `pings too sparse: ${gaps.map(Math.round).join(' ')}`);
    } finally {
      await socket.close();
      await unlink(socket.socket).catch(() => undefined);
    }
  });
});

/**
 * Call deadlines kept with one timer per distinct timeout: each entry
 * expires at its own deadline, not before, and in deadline order; a
 * cancelled one never does; nothing is left armed once all have settled.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { Deadlines } from '../../runtime/deadlines.js';
import type { DeadlineLane } from '../../runtime/deadlines.js';

interface Entry {
  name: string;
  added: number;
  timeoutMs: number;
  due: number;
  lane: DeadlineLane | undefined;
}

function entry(name: string, timeoutMs: number): Entry {
  return { name, added: performance.now(), timeoutMs, due: 0, lane: undefined };
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

describe('call deadlines', () => {
  it('entries expire at their own deadline, in deadline order, and cancelled ones never', async () => {
    const expired: { name: string; late: number }[] = [];
    const baseline = timeouts();
    let done: () => void = () => undefined;
    const allExpired = new Promise<void>((resolve) => (done = resolve));
    const deadlines = new Deadlines<Entry>((e) => {
      expired.push({ name: e.name, late: performance.now() - e.added - e.timeoutMs });
      if (expired.length === 3) done();
    });
    const slow = entry('slow', 60);
    const fast = entry('fast', 20);
    const cancelled = entry('cancelled', 20);
    const slower = entry('slower', 60);
    deadlines.add(slow, 60);
    deadlines.add(fast, 20);
    deadlines.add(cancelled, 20);
    deadlines.add(slower, 60);
    deadlines.cancel(cancelled);
    // Many more, all cancelled at once: they must not delay or disturb the others.
    const crowd = Array.from({ length: 5000 }, (_, i) => entry(`crowd-${i}`, 20));
    for (const e of crowd) deadlines.add(e, 20);
    for (const e of crowd) deadlines.cancel(e);
    const failsafe = setTimeout(done, 5000);
    await allExpired;
    clearTimeout(failsafe);
    assert.deepEqual(
      expired.map((e) => e.name),
      ['fast', 'slow', 'slower'],
    );
    for (const e of expired) assert.ok(e.late >= 0, `${e.name} expired ${-e.late} ms before its deadline`);
    assert.equal(timeouts(), baseline, 'no timer left armed');
  });

  it('an entry added before a long synchronous stretch still expires no earlier than its timeout', async () => {
    let expiredAt = 0;
    const deadlines = new Deadlines<Entry>(() => (expiredAt = performance.now()));
    const e = entry('blocked', 20);
    deadlines.add(e, 20);
    const busyUntil = performance.now() + 40;
    while (performance.now() < busyUntil);
    const failsafe = Date.now() + 5000;
    while (expiredAt === 0 && Date.now() < failsafe) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(expiredAt - e.added >= 20, `expired ${expiredAt - e.added} ms after it was added`);
  });

  it('a deadline beyond what setTimeout can hold does not expire early', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): number => warnings.push(warning.name);
    process.on('warning', onWarning);
    const deadlines = new Deadlines<Entry>(() => assert.fail('nothing may expire'));
    const far = entry('far', 2 ** 40);
    deadlines.add(far, far.timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, 30));
    deadlines.cancel(far);
    process.off('warning', onWarning);
    // Given more than it can hold, setTimeout warns and fires at once (then again, and again).
    assert.deepEqual(warnings, []);
  });

  it('no timer stays armed once every entry was cancelled', () => {
    const baseline = timeouts();
    const deadlines = new Deadlines<Entry>(() => assert.fail('nothing may expire'));
    const entries = [entry('a', 1000), entry('b', 2000), entry('c', 1000)];
    entries.forEach((e) => deadlines.add(e, e.timeoutMs));
    assert.equal(timeouts(), baseline + 2, 'one timer per distinct timeout');
    entries.forEach((e) => deadlines.cancel(e));
    entries.forEach((e) => deadlines.cancel(e));
    assert.equal(timeouts(), baseline);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addRestart } from '../../supervisors/index.js';

/** Feeds restart times one by one and reports which restart (1-based) first exceeded, or 0. */
function firstExceeded(times: number[], intensity: number, periodMs: number): number {
  let restarts: readonly number[] = [];
  for (const [i, now] of times.entries()) {
    const verdict = addRestart(restarts, now, intensity, periodMs);
    if (verdict.exceeded) return i + 1;
    restarts = verdict.restarts;
  }
  return 0;
}

describe('restart intensity (a sliding window, as OTP counts it)', () => {
  const table: Array<{
    name: string;
    times: number[];
    intensity: number;
    periodMs: number;
    exceededAt: number;
  }> = [
    {
      name: 'defaults: the second restart within 5 s is one too many',
      times: [0, 4999],
      intensity: 1,
      periodMs: 5000,
      exceededAt: 2,
    },
    {
      name: 'a restart exactly one period later still counts (R >= Now - Period)',
      times: [0, 5000],
      intensity: 1,
      periodMs: 5000,
      exceededAt: 2,
    },
    {
      name: 'a restart just over one period later does not',
      times: [0, 5001],
      intensity: 1,
      periodMs: 5000,
      exceededAt: 0,
    },
    {
      name: 'intensity 0: the first restart is one too many',
      times: [0],
      intensity: 0,
      periodMs: 5000,
      exceededAt: 1,
    },
    {
      name: 'intensity 3 allows three within the period',
      times: [0, 10, 20, 30],
      intensity: 3,
      periodMs: 1000,
      exceededAt: 4,
    },
    {
      name: 'spaced wider than the period, never exceeded',
      times: [0, 2000, 4000, 6000, 8000],
      intensity: 1,
      periodMs: 1500,
      exceededAt: 0,
    },
    {
      name: 'the window slides: old restarts fall out',
      times: [0, 600, 1200, 1800, 2300],
      intensity: 2,
      periodMs: 1000,
      exceededAt: 0,
    },
    {
      name: 'a burst after a quiet spell is counted on its own',
      times: [0, 5000, 5001, 5002],
      intensity: 2,
      periodMs: 1000,
      exceededAt: 4,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.equal(firstExceeded(row.times, row.intensity, row.periodMs), row.exceededAt);
    });
  }

  it('keeps only the restarts inside the period, newest first', () => {
    const verdict = addRestart([900, 500, 100], 1200, 10, 1000);
    assert.deepEqual(verdict.restarts, [1200, 900, 500]);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectDelay } from '../../../actors/connection/backoff.js';

const DEFAULTS = { initialMs: 2000, factor: 1.5, maxMs: 30_000 };

test('connect delays follow 0, then 2 s x1.5 up to 30 s', () => {
  const table: [failures: number, delayMs: number][] = [
    [0, 0],
    [1, 2000],
    [2, 3000],
    [3, 4500],
    [4, 6750],
    [5, 10_125],
    [6, 15_188],
    [7, 22_781],
    [8, 30_000],
    [20, 30_000],
  ];
  for (const [failures, delayMs] of table) {
    assert.equal(connectDelay(DEFAULTS, failures), delayMs, `after ${failures} failures`);
  }
});

test('a factor of 1 gives a constant delay and a cap below initial wins', () => {
  assert.equal(connectDelay({ initialMs: 500, factor: 1, maxMs: 1000 }, 9), 500);
  assert.equal(connectDelay({ initialMs: 500, factor: 2, maxMs: 0 }, 1), 0);
});

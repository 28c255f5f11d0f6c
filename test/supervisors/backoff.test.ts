import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../supervisors/index.js';

describe('backoff delay', () => {
  const options = { minMs: 100, maxMs: 1000, factor: 2, jitter: 0, resetAfterMs: 10_000 };
  const table: Array<[attempt: number, delayMs: number]> = [
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1000],
    [10, 1000],
  ];
  for (const [attempt, delayMs] of table) {
    it(`attempt ${attempt} waits ${delayMs} ms (exponential, capped)`, () => {
      assert.equal(backoffDelay(options, attempt, 0.5), delayMs);
    });
  }

  it('jitter spreads the delay by at most its fraction either way, and never past the cap', () => {
    const jittered = { ...options, jitter: 0.2 };
    assert.equal(backoffDelay(jittered, 1, 0), 160);
    assert.equal(backoffDelay(jittered, 1, 1), 240);
    assert.equal(backoffDelay(jittered, 1, 0.5), 200);
    assert.equal(backoffDelay(jittered, 10, 1), 1000);
  });
});

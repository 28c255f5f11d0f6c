import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogLimiter } from '../../runtime/log-limiter.js';

test('lets `burst` lines through per window, counts the rest, and reports them on the next line', () => {
  const limiter = new LogLimiter({ periodMs: 1000, burst: 2 });
  // [time, expected admit()]
  const table: [number, number | undefined][] = [
    [0, 0],
    [10, 0],
    [20, undefined],
    [999, undefined],
    [1000, 2],
    [1001, 0],
    [1002, undefined],
    [5000, 1],
  ];
  for (const [now, expected] of table) assert.equal(limiter.admit('a', now), expected, `at ${now}`);
});

test('each kind has its own window and budget', () => {
  const limiter = new LogLimiter<string>((kind) => ({ periodMs: 1000, burst: kind === 'chatty' ? 3 : 1 }));
  assert.equal(limiter.admit('quiet', 0), 0);
  assert.equal(limiter.admit('quiet', 1), undefined);
  for (let i = 0; i < 3; i++) assert.equal(limiter.admit('chatty', 2), 0);
  assert.equal(limiter.admit('chatty', 3), undefined);
  assert.equal(limiter.suppressed('quiet'), 1);
  assert.equal(limiter.suppressed('chatty'), 1);
  assert.equal(limiter.suppressed('never seen'), 0);
});

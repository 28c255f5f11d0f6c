/**
 * `npm test` runs the CI variant of `npm run fuzz`: 10^5 codec inputs, and
 * a few thousand configuration files and HTTP requests. Each target must
 * find nothing: no throw, no buffer past its bound, every output or answer
 * of the expected typed kind. The seed is random (printed, and in every
 * failure); TETHER_FUZZ_SEED repeats a run. TETHER_FUZZ=0 leaves it out
 * (CI runs it on one of its two Node versions only, as the soak).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { CI, outcomeText, runTarget } from '../../fuzz/fuzz.js';

const seed = Number(process.env['TETHER_FUZZ_SEED'] ?? randomInt(2 ** 31));
/** Heap left over after a whole target: a leak per input would be megabytes by the end. */
const HEAP_BOUND_BYTES = 32 * 1024 * 1024;
/** A single input taking this long is a finding (an alias bomb, a quadratic path); wide for a loaded machine. */
const SLOWEST_BOUND_MS = 10_000;

const skip = process.env['TETHER_FUZZ'] === '0' ? 'TETHER_FUZZ=0' : false;

describe(`npm run fuzz -- --ci (seed ${seed})`, { skip }, () => {
  for (const target of ['codec', 'config', 'http'] as const) {
    it(
      `${target}: ${CI[target].toLocaleString('en-US')} random and mutated inputs, each handled with the expected typed outcome`,
      { timeout: 15 * 60_000 },
      async () => {
        const outcome = await runTarget(target, CI[target], seed);
        console.log(outcomeText(outcome));
        assert.deepEqual(outcome.failures, [], outcomeText(outcome));
        assert.ok(outcome.heapGrowthBytes < HEAP_BOUND_BYTES, outcomeText(outcome));
        assert.ok(outcome.slowestMs < SLOWEST_BOUND_MS, outcomeText(outcome));
      },
    );
  }
});

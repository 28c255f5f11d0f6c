/**
 * The warm standby: a replacement never loads while a start of its key is
 * in progress (it would compete with that start for the cores), and loads
 * as soon as the start is over, so a later crash finds it on its way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveWorkerCount } from '../../runtime/index.js';
import { StandbyPool } from '../../runtime/standby.js';
import type { SlotOptions } from '../../runtime/worker-slot.js';
import { PROBE_MODULE } from '../fixtures/probe.js';
import { eventually, silentLogger } from '../helpers.js';

const options: SlotOptions = {
  module: PROBE_MODULE,
  resourceLimits: undefined,
  callTimeoutMs: 5000,
  stashLimit: 10,
  logger: silentLogger,
};

/** Long past the old 25 ms re-warm delay: a replacement spawned during a start would show by then. */
const pastAnyDelay = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

describe('warm standby', () => {
  it('no replacement loads while a start is in progress; it loads once the start is over', async () => {
    const pool = new StandbyPool(true);
    const taken: Array<{ slot: { terminate(): Promise<void> } }> = [];
    try {
      const first = pool.take(options);
      taken.push(first);
      first.started();
      // The first standby of a module waits out the tree's start-up, then loads.
      await eventually(() => liveWorkerCount() === 2, 10_000, 'the first standby');
      const second = pool.take(options);
      taken.push(second);
      await second.slot.loaded;
      await pastAnyDelay();
      assert.equal(liveWorkerCount(), 2, 'nothing loads beside the start in progress');
      second.started();
      await eventually(() => liveWorkerCount() === 3, 10_000, 'the replacement on its way');
      // A crash now finds that replacement (loading or loaded), not a fresh spawn.
      const third = pool.take(options);
      taken.push(third);
      assert.equal(liveWorkerCount(), 3);
      third.started();
    } finally {
      await pool.close();
      await Promise.all(taken.map((t) => t.slot.terminate()));
    }
    assert.equal(liveWorkerCount(), 0);
  });
});

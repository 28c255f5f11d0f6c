/**
 * One life cycle across service processes (fleet.ts): a member cut off from
 * the broker (a relay the test cuts) converges when it returns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupMessages, lifecycleIs, relay, running, waitForState, withFleet } from './fleet.js';

describe('one life cycle across service processes', () => {
  it('a member cut off from the broker converges when it returns', () =>
    withFleet(['m1', 'm2'], async ({ broker, observer, start }) => {
      const cuttable = await relay(broker.port);
      try {
        await start('m3', cuttable.url);
        for (const name of ['m1', 'm2', 'm3']) await waitForState(observer, name, running);
        cuttable.cut();
        await observer.request('tether/m1/cmd/lifecycle', { state: 'paused' });
        await waitForState(observer, 'm2', lifecycleIs('paused'));
        const publishedBefore = observer.on('tether/m3/state').length;
        cuttable.restore();
        const back = await waitForState(observer, 'm3', lifecycleIs('paused'));
        assert.equal(back.data.lifecycle.last?.via, 'group');
        assert.ok(observer.on('tether/m3/state').length > publishedBefore);
        assert.equal(groupMessages(observer).length, 1);
      } finally {
        await cuttable.close();
      }
    }));
});

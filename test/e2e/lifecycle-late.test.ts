/**
 * One life cycle across service processes (fleet.ts): a member that starts
 * after the group moved catches up from the retained transition.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupMessages, lifecycleIs, running, waitForState, withFleet } from './fleet.js';

describe('one life cycle across service processes', () => {
  it('a member started late catches up with the group’s latest transition, and publishes nothing', () =>
    withFleet(['m1', 'm2'], async ({ observer, start }) => {
      for (const name of ['m1', 'm2']) await waitForState(observer, name, running);
      await observer.request('tether/m1/cmd/lifecycle', { state: 'paused' });
      await waitForState(observer, 'm2', lifecycleIs('paused'));
      await start('m3');
      const late = await waitForState(observer, 'm3', lifecycleIs('paused'));
      assert.equal(late.data.lifecycle.last?.via, 'group');
      assert.equal(late.data.autoconnecting, false);
      assert.equal(groupMessages(observer).length, 1);
    }));
});

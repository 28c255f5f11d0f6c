/**
 * One life cycle across three service processes (fleet.ts): a trigger on one
 * member reaches the others, and each trigger is published exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupMessages, lifecycleIs, running, waitForState, withFleet } from './fleet.js';

describe('one life cycle across service processes', () => {
  it('a trigger on one member reaches the others, and each trigger is published exactly once (no echo)', () =>
    withFleet(['m1', 'm2', 'm3'], async ({ observer }) => {
      for (const name of ['m1', 'm2', 'm3']) await waitForState(observer, name, running);
      assert.deepEqual(groupMessages(observer), [], 'starting up publishes nothing to the group');

      const paused = await observer.request('tether/m1/cmd/lifecycle', { state: 'paused' });
      assert.equal(paused.body['state'], 'paused');
      for (const name of ['m1', 'm2', 'm3']) {
        await waitForState(
          observer,
          name,
          (d) => lifecycleIs('paused')(d) && d.data.phase.name === 'Disconnected',
        );
      }
      const m2 = await waitForState(observer, 'm2', lifecycleIs('paused'));
      assert.equal(m2.data.lifecycle.last?.via, 'group');
      assert.match(m2.data.lifecycle.last?.origin ?? '', /^m1\//);
      assert.deepEqual(
        groupMessages(observer).map((m) => [m.service, m.seq, m.to]),
        [['m1', 1, 'paused']],
      );

      const mark = observer.mark();
      await observer.request('tether/m2/cmd/lifecycle', { state: 'started' });
      for (const name of ['m1', 'm2', 'm3']) await waitForState(observer, name, running, mark);
      assert.deepEqual(
        groupMessages(observer).map((m) => [m.service, m.seq, m.to]),
        [
          ['m1', 1, 'paused'],
          ['m2', 1, 'started'],
        ],
      );
    }));
});

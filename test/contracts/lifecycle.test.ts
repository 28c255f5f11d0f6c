/**
 * The life-cycle table: every (state, trigger) pair decided as the issue
 * says, the shortest catch-up path, and errors that name the state and the
 * allowed triggers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  IllegalLifecycleTriggerError,
  LIFECYCLE_STATES,
  LIFECYCLE_TARGETS,
  allowedTargets,
  decideTrigger,
  pathTo,
  type LifecycleState,
} from '../../contracts/lifecycle.js';

/** What a trigger for each target does in each state: a = accept, i = ignore, r = refuse. */
const TABLE: Record<LifecycleState, Record<'started' | 'paused' | 'stopped', 'a' | 'i' | 'r'>> = {
  created: { started: 'r', paused: 'r', stopped: 'r' },
  initialized: { started: 'a', paused: 'r', stopped: 'a' },
  started: { started: 'i', paused: 'a', stopped: 'a' },
  paused: { started: 'a', paused: 'i', stopped: 'a' },
  stopped: { started: 'r', paused: 'r', stopped: 'i' },
  failed: { started: 'r', paused: 'r', stopped: 'a' },
};

describe('the life-cycle table', () => {
  for (const state of LIFECYCLE_STATES) {
    for (const target of LIFECYCLE_TARGETS) {
      const expected = TABLE[state][target];
      const word = { a: 'accepted', i: 'ignored', r: 'refused' }[expected];
      it(`${target} while ${state} is ${word}`, () => {
        const decision = decideTrigger(state, target);
        assert.equal(decision.kind[0], expected);
      });
    }
  }

  it('failed is reachable from every state but failed itself', () => {
    for (const state of LIFECYCLE_STATES) {
      assert.equal(decideTrigger(state, 'failed').kind, state === 'failed' ? 'ignore' : 'accept', state);
    }
  });

  it('a refusal names the state, the trigger and the allowed triggers', () => {
    const decision = decideTrigger('paused', 'initialized');
    assert.equal(decision.kind, 'refuse');
    const error = (decision as { error: IllegalLifecycleTriggerError }).error;
    assert.equal(error.code, 'TETHER_LIFECYCLE_ILLEGAL');
    assert.deepEqual(error.detail, {
      state: 'paused',
      target: 'initialized',
      allowed: ['started', 'stopped'],
    });
    assert.deepEqual(allowedTargets('stopped'), []);
  });

  it('the catch-up path is the shortest way through the table, never through failed', () => {
    assert.deepEqual(pathTo('initialized', 'paused'), ['started', 'paused']);
    assert.deepEqual(pathTo('initialized', 'started'), ['started']);
    assert.deepEqual(pathTo('paused', 'paused'), []);
    assert.deepEqual(pathTo('started', 'stopped'), ['stopped']);
    assert.deepEqual(pathTo('created', 'paused'), ['initialized', 'started', 'paused']);
    assert.equal(pathTo('stopped', 'started'), undefined);
    assert.equal(pathTo('failed', 'paused'), undefined);
    assert.deepEqual(pathTo('failed', 'stopped'), ['stopped']);
  });
});

/**
 * The soak's phase check against the phase table, case by case: what the
 * event stream may say and what it may not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkTransition } from '../../soak/phases.js';
import type { PhaseEvent, PhasePoint } from '../../soak/phases.js';

const at = (phase: PhasePoint['phase'], generation: number): PhasePoint => ({ phase, generation });
const step = (from: string, to: string, generation: number): PhaseEvent => ({ from, to, generation });

describe('the soak phase check', () => {
  const legal: Array<[string, PhasePoint | undefined, PhaseEvent]> = [
    [
      'a new connection bumps the generation by one',
      at('Disconnected', 3),
      step('Disconnected', 'Connected', 4),
    ],
    ['acknowledged on the same generation', at('Connected', 4), step('Connected', 'Acknowledged', 4)],
    ['synchronized on the same generation', at('Acknowledged', 4), step('Acknowledged', 'Synchronized', 4)],
    [
      'back to Disconnected from Synchronized',
      at('Synchronized', 4),
      step('Synchronized', 'Disconnected', 4),
    ],
    ['back to Disconnected from Connected', at('Connected', 5), step('Connected', 'Disconnected', 5)],
    [
      'back to Disconnected from Acknowledged',
      at('Acknowledged', 5),
      step('Acknowledged', 'Disconnected', 5),
    ],
    ['the first event of a stream with no state yet', undefined, step('Disconnected', 'Connected', 9)],
  ];
  for (const [title, last, event] of legal) {
    it(`accepts: ${title}`, () => {
      const checked = checkTransition(last, event);
      assert.equal(checked.ok, true, checked.ok ? '' : checked.why);
      assert.deepEqual(checked.now, { phase: event.to, generation: event.generation });
    });
  }

  const illegal: Array<[string, PhasePoint | undefined, PhaseEvent]> = [
    ['a skip forward', at('Connected', 2), step('Connected', 'Synchronized', 2)],
    [
      'a step back that is not to Disconnected',
      at('Synchronized', 2),
      step('Synchronized', 'Acknowledged', 2),
    ],
    [
      'a transition that does not start where the last ended',
      at('Synchronized', 2),
      step('Connected', 'Acknowledged', 2),
    ],
    ['a new connection that skips a generation', at('Disconnected', 2), step('Disconnected', 'Connected', 4)],
    [
      'a new connection that reuses the generation',
      at('Disconnected', 2),
      step('Disconnected', 'Connected', 2),
    ],
    ['a generation going back', at('Connected', 5), step('Connected', 'Acknowledged', 4)],
    ['a disconnect of another generation', at('Synchronized', 5), step('Synchronized', 'Disconnected', 6)],
    ['a disconnect while disconnected', at('Disconnected', 5), step('Disconnected', 'Disconnected', 5)],
    ['an unknown phase', at('Connected', 1), step('Connected', 'Confused', 1)],
  ];
  for (const [title, last, event] of illegal) {
    it(`refuses: ${title}`, () => {
      assert.equal(checkTransition(last, event).ok, false);
    });
  }

  it('after a refused step the check goes on from where the stream says the link went', () => {
    const checked = checkTransition(at('Connected', 2), step('Connected', 'Synchronized', 2));
    assert.deepEqual(checked.now, at('Synchronized', 2));
    assert.equal(checkTransition(checked.now, step('Synchronized', 'Disconnected', 2)).ok, true);
  });
});

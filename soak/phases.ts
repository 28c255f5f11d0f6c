/**
 * The soak's check of the phase stream, as a pure function over what the
 * event stream (`/api/events`) says: every transition is one the phase table
 * allows (contracts/phase.ts: forward one step at a time, back only to
 * Disconnected), it starts where the last one ended, and the generation is
 * bumped by exactly one on each Connected and never goes back.
 */
import { PHASES } from '../contracts/phase.js';
import type { PhaseName } from '../contracts/phase.js';

/** Where the stream says the link is. */
export interface PhasePoint {
  phase: PhaseName;
  generation: number;
}

/** One `phase` event of the stream (the fields the check reads). */
export interface PhaseEvent {
  from: string;
  to: string;
  generation: number;
}

export type PhaseCheck = { ok: true; now: PhasePoint } | { ok: false; now: PhasePoint; why: string };

function isPhase(name: string): name is PhaseName {
  return (PHASES as readonly string[]).includes(name);
}

/**
 * Checks one transition against the last known point (undefined before the
 * stream's first `state` event). Whatever the verdict, `now` is where the
 * stream says the link went, so one broken step is reported once, not for
 * every step after it.
 */
export function checkTransition(last: PhasePoint | undefined, event: PhaseEvent): PhaseCheck {
  if (!isPhase(event.to) || !isPhase(event.from)) {
    const now = last ?? { phase: 'Disconnected', generation: event.generation };
    return { ok: false, now, why: `unknown phase in ${event.from} -> ${event.to}` };
  }
  const now: PhasePoint = { phase: event.to, generation: event.generation };
  const refuse = (why: string): PhaseCheck => ({
    ok: false,
    now,
    why: `${event.from} -> ${event.to} (generation ${event.generation}): ${why}`,
  });
  if (last !== undefined && event.from !== last.phase) {
    return refuse(`the last transition ended in ${last.phase} (generation ${last.generation})`);
  }
  if (last !== undefined && event.generation < last.generation) {
    return refuse(`the generation went back from ${last.generation}`);
  }
  const step = PHASES.indexOf(event.to) - PHASES.indexOf(event.from);
  if (event.to === 'Disconnected') {
    if (event.from === 'Disconnected') return refuse('already disconnected');
    if (last !== undefined && event.generation !== last.generation) {
      return refuse(`a disconnect must keep generation ${last.generation}`);
    }
    return { ok: true, now };
  }
  if (step !== 1) return refuse('forward moves go one step at a time');
  if (event.to === 'Connected') {
    if (last !== undefined && event.generation !== last.generation + 1) {
      return refuse(`a new connection must be generation ${last.generation + 1}`);
    }
    return { ok: true, now };
  }
  if (last !== undefined && event.generation !== last.generation) {
    return refuse(`a step forward must keep generation ${last.generation}`);
  }
  return { ok: true, now };
}

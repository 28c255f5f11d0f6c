/**
 * What crosses between the main thread and a pool thread, in one place. The
 * task goes as it is (piscina posts it); the answer is one of these, so a
 * task's error keeps its class, `code`, `detail` and `cause` (structured
 * cloning alone keeps only an Error's message), and a module that does not
 * go through `definePoolTask` is recognised instead of returning garbage.
 */
import type { SerializedError } from '../errors/index.js';

/** Marks an answer as coming from `definePoolTask`. */
export const POOL_ANSWER = 'tetherPoolAnswer';

export type PoolAnswer =
  { [POOL_ANSWER]: 1; ok: true; value: unknown } | { [POOL_ANSWER]: 1; ok: false; error: SerializedError };

export function isPoolAnswer(value: unknown): value is PoolAnswer {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[POOL_ANSWER] === 1;
}

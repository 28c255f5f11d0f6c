/**
 * The pool thread's side: `definePoolTask(fn)` is the default export of a
 * task module, the function piscina calls with each task. `fn` may be async;
 * what it returns goes back to `PoolRef.run`'s caller, what it throws is
 * rethrown there as the same class with its `code` (tether errors) or as a
 * RemoteError with its name, code and message (any other error).
 *
 * To hand large buffers back without a copy, return `move(value)` from
 * piscina (a transferable, or an object carrying its transfer list): it is
 * passed on as such.
 */
import { serializeError } from '../errors/index.js';
import { POOL_ANSWER } from './pool-messages.js';
import type { PoolAnswer } from './pool-messages.js';

/** piscina's marks of a transferable result (global symbols, so no need to load piscina to see them). */
const TRANSFERABLE = Symbol.for('Piscina.transferable');
const VALUE = Symbol.for('Piscina.valueOf');

/** What a task module's default export is; the type parameters let callers check their tasks against it. */
export interface PoolTaskFunction<Task, Result> {
  (task: Task): Promise<PoolAnswer | unknown>;
  /** Types only: never set. */
  readonly __task?: Task;
  readonly __result?: Result;
}

export function definePoolTask<Task, Result>(
  fn: (task: Task) => Result | Promise<Result>,
): PoolTaskFunction<Task, Result> {
  return async (task: Task): Promise<unknown> => {
    let result: unknown;
    try {
      result = await fn(task);
    } catch (error) {
      const answer: PoolAnswer = { [POOL_ANSWER]: 1, ok: false, error: serializeError(error) };
      return answer;
    }
    if (!isTransferable(result)) {
      const answer: PoolAnswer = { [POOL_ANSWER]: 1, ok: true, value: result };
      return answer;
    }
    // Moved by the task: the answer carries its value, and piscina the transfer list.
    const answer: PoolAnswer = { [POOL_ANSWER]: 1, ok: true, value: result[VALUE] };
    // The task imported piscina already (for `move`), so this costs nothing more.
    const { move } = await import('piscina');
    return move({ [TRANSFERABLE]: result[TRANSFERABLE], [VALUE]: answer } as unknown as ArrayBuffer);
  };
}

function isTransferable(value: unknown): value is { [TRANSFERABLE]: unknown; [VALUE]: unknown } {
  return typeof value === 'object' && value !== null && TRANSFERABLE in value && VALUE in value;
}

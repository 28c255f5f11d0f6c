/**
 * piscina's own errors, recognised in one place. piscina gives them neither
 * a code nor a class: each is a plain `Error` made by a factory in its
 * src/errors.ts, which the package does not export (its `exports` map offers
 * only the main entry), so the message is all there is to go by:
 *
 * - https://github.com/piscinajs/piscina/blob/4e9791fd46b61c638e7ad05f14ec4540d40898aa/src/errors.ts#L5-L7
 *   (`TaskQueueAtLimit`, `NoTaskQueueAvailable`; the same in the 5.3.2 we
 *   install, node_modules/piscina/dist/errors.js)
 * - https://github.com/piscinajs/piscina/blob/4e9791fd46b61c638e7ad05f14ec4540d40898aa/src/worker.ts#L149
 *   ("No handler function exported from ..."; dist/worker.js in 5.3.2)
 *
 * Nothing else reads piscina's messages. runtime/pool.ts turns what this
 * says into our typed errors, so no piscina error reaches a caller as it is.
 * The pool tests run both queue-full cases (a full queue, and maxQueue 0
 * with every thread busy) and assert the code: a piscina release that
 * rewords them fails CI instead of passing a full queue off as a crash.
 */

/** What a rejection from piscina's `run` was, as far as its message tells. */
export type PiscinaFailure = 'queue-full' | 'no-handler' | 'other';

const QUEUE_AT_LIMIT = 'Task queue is at limit';
const NO_QUEUE_AVAILABLE = 'No task queue available';
const NO_HANDLER = 'No handler function exported';

export function piscinaFailure(error: unknown): PiscinaFailure {
  const message = error instanceof Error ? error.message : '';
  if (message === QUEUE_AT_LIMIT || message.startsWith(NO_QUEUE_AVAILABLE)) return 'queue-full';
  if (message.startsWith(NO_HANDLER)) return 'no-handler';
  return 'other';
}

/**
 * Why an incarnation ended. The supervisor's restart decision depends only
 * on whether the reason is normal (normal, shutdown) or abnormal (the rest),
 * as in OTP; the kinds are told apart so operators see what happened.
 */
import type { SerializedError } from './errors.js';
import { describe } from './errors.js';

export type ExitReason =
  /** The actor asked to stop (`ctx.exit()`), or its init returned 'ignore'. */
  | { kind: 'normal' }
  /**
   * Its supervisor stopped it in order, or (for a supervisor) it gave up; or
   * it asked to stop with `ctx.exit({ shutdown: term })`, or was sent
   * `system.exit(ref, { shutdown: term })`: OTP's `{shutdown, Term}`, with
   * the term. Normal for restart decisions either way.
   */
  | { kind: 'shutdown'; term?: unknown }
  /** An uncaught exception or unhandled rejection. */
  | { kind: 'crash'; error: SerializedError; origin: 'uncaughtException' | 'unhandledRejection' }
  /** `process.exit(code)` inside the worker: always abnormal, since it skips terminate. */
  | { kind: 'process-exit'; code: number }
  /** The worker hit its `resourceLimits` (ERR_WORKER_OUT_OF_MEMORY). */
  | { kind: 'oom'; error: SerializedError }
  /** It missed its heartbeat deadline and was terminated. */
  | { kind: 'hung'; timeoutMs: number }
  /** Terminated without asking: brutal_kill, it overran its shutdown timeout, or `system.exit(ref, 'kill')`. */
  | { kind: 'killed' }
  /** Ended from outside by `system.exit(ref, term)` with a reason of its own (OTP's exit(Pid, Term)): abnormal. */
  | { kind: 'exit'; term: unknown };

export type ExitKind = ExitReason['kind'];

export function isNormalExit(reason: ExitReason): boolean {
  return reason.kind === 'normal' || reason.kind === 'shutdown';
}

export function describeExit(reason: ExitReason): string {
  switch (reason.kind) {
    case 'crash':
      return `crash (${reason.origin}): ${reason.error.message}`;
    case 'oom':
      return `out of memory: ${reason.error.message}`;
    case 'process-exit':
      return `process.exit(${reason.code})`;
    case 'hung':
      return `hung (no heartbeat answer within ${reason.timeoutMs} ms)`;
    case 'shutdown':
      return reason.term === undefined ? 'shutdown' : `shutdown (${describe(reason.term)})`;
    case 'exit':
      return `exit (${describe(reason.term)})`;
    default:
      return reason.kind;
  }
}

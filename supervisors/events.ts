/**
 * The typed stream of what supervisors do: every start, exit, restart,
 * give-up and backoff, for logs, telemetry and the HTTP API. One bus is
 * shared by a whole tree; each event names the supervisor it came from.
 */
import type { SerializedError } from '../runtime/errors.js';
import type { ExitReason } from '../runtime/exit-reason.js';
import type { AutoShutdown, ChildKind, Strategy } from './spec.js';

interface Base {
  /** The supervisor's id. */
  supervisor: string;
  /** Wall-clock time (ms since epoch), for people and exporters. */
  at: number;
}

export type SupervisionEvent = Base &
  (
    | { type: 'child-started'; childId: string; kind: ChildKind; incarnation: number }
    /**
     * A child ended without being asked (or asked itself, with reason normal).
     * `restarting`: its restart type calls for a restart (permanent, or
     * transient after an abnormal exit); false for a temporary child and a
     * transient one that ended normally, which stay stopped.
     */
    | { type: 'child-exited'; childId: string; reason: ExitReason; restarting: boolean }
    /** The supervisor stopped a child: on request, as a bystander of a group restart, or when shutting down. */
    | { type: 'child-terminated'; childId: string; reason: ExitReason }
    | { type: 'child-start-failed'; childId: string; error: SerializedError }
    /** Its init returned 'ignore' (OTP's `ignore`): not started, not a failure, not retried. */
    | { type: 'child-ignored'; childId: string }
    /** A failure of `childId` restarted `group` (in start order) under `strategy`. */
    | { type: 'child-restarted'; childId: string; strategy: Strategy; group: string[]; cause: ExitReason }
    /** A significant child ended and autoShutdown says so: the supervisor stops its children and exits with reason shutdown. */
    | { type: 'auto-shutdown'; childId: string; autoShutdown: AutoShutdown }
    /** Restart intensity ran out: the supervisor stops its children and exits with reason shutdown. */
    | { type: 'give-up'; childId: string; intensity: number; periodMs: number }
    /** A restart waits `delayMs` first; `childId` is absent when the whole tree restarts after its intensity ran out. */
    | { type: 'backoff'; childId?: string; delayMs: number; attempt: number }
    | { type: 'supervisor-started'; children: string[] }
    | { type: 'supervisor-stopped'; reason: ExitReason }
  );

export type SupervisionEventType = SupervisionEvent['type'];
export type SupervisionListener = (event: SupervisionEvent) => void;

export class SupervisionEvents {
  readonly #listeners = new Set<SupervisionListener>();

  subscribe(listener: SupervisionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SupervisionEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break supervision.
      }
    }
  }
}

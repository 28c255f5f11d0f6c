/**
 * Failure-drill routes, for the project's soak (`npm run soak`) and for an
 * operator rehearsing failures on a test bench. They exist only when
 * `http.drills` is on (off by default: the routes are then not found, 404,
 * like any unknown path); when on, they pass the same Host, Origin, token
 * and JSON checks as every other route.
 *
 *   POST /api/drills/faults      {"actor", "fault": "crash" | "hang" | "oom"}: that actor's
 *                                current incarnation crashes, hangs or runs out of memory as
 *                                if its own code had (the tree must notice and recover)
 *   GET  /api/drills/resources   live worker threads, this process's active handles by type,
 *                                and its memory: what a leak would make grow
 */
import { z } from 'zod';
import { ActorDownError, ChildNotFoundError, liveWorkerCount } from '../runtime/index.js';
import { readJson } from './body.js';
import { InvalidBodyError } from './errors.js';
import type { Route } from './routes.js';

export const DRILL_FAULTS = ['crash', 'hang', 'oom'] as const;

const FaultBody = z.strictObject({
  actor: z.string().min(1).max(64),
  fault: z.enum(DRILL_FAULTS),
});

export interface ResourcesView {
  /** Worker threads alive in this process (actors and their warm standbys). */
  workers: number;
  /** `process.getActiveResourcesInfo()` of the main thread, counted by type. */
  handles: Record<string, number>;
  /** `process.memoryUsage()`, bytes. */
  memory: NodeJS.MemoryUsage;
}

export const DRILL_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/api/drills/faults',
    mutating: true,
    drill: true,
    async handle({ service, request }) {
      const { actor, fault } = await readJson(request, FaultBody);
      const supervisor = service.root.findSupervisorOf(actor);
      if (supervisor === undefined) throw new ChildNotFoundError(actor);
      const child = supervisor.whichChildren().find((c) => c.id === actor);
      if (child?.kind !== 'worker') {
        throw new InvalidBodyError(`actor: ${actor} is a supervisor, not an actor`, [
          { path: 'actor', message: 'expected the id of an actor (a worker child)' },
        ]);
      }
      // Between incarnations there is nothing to break: the caller learns so rather than a no-op.
      if (!service.system.injectFault(actor, fault)) throw new ActorDownError(actor, 'it is not running');
      return { status: 200, body: { actor, fault, incarnation: child.incarnation } };
    },
  },
  {
    method: 'GET',
    path: '/api/drills/resources',
    mutating: false,
    drill: true,
    async handle() {
      const handles: Record<string, number> = {};
      for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
      const body: ResourcesView = { workers: liveWorkerCount(), handles, memory: process.memoryUsage() };
      return { status: 200, body };
    },
  },
];

/**
 * The routes: what each one reads or does, and its body's schema. Handlers
 * return `{ status, body }` (or stream, for events) and throw coded errors;
 * the server turns those into statuses (errors.ts). Mutating routes are
 * marked so the server checks the token and refuses them while stopping.
 *
 *   GET  /healthz                      liveness: the tree is running
 *   GET  /readyz                       readiness: the phase http.readyWhen asks for
 *   GET  /api/status                   phase, device, errors, counters, actors
 *   GET  /api/tree                     the live supervision tree
 *   GET  /api/events                   Server-Sent Events: phase, supervision, autoconnecting
 *   POST /api/reconnect                drop the current link (connection reconnects if autoconnecting)
 *   PUT  /api/autoconnecting           {"enabled": bool}
 *   POST /api/actors/{id}/restart      terminate and restart one child of the tree
 *   POST /api/commands                 {"opcode", "payload"?, "timeoutMs"?}: the controller's answer
 *   GET  /api/lifecycle                the service life cycle: state, last transition and who asked, group
 *   PUT  /api/lifecycle                {"state": "started" | "paused" | "stopped"}: a life-cycle trigger
 *
 * The operator actions run through kernel/operator.ts, the same functions
 * MQTT requests reach; a route reads its body with the action's schema.
 *
 * With `http.drills` on, the failure-drill routes of drills.ts too.
 * Tasks, backups (task-routes.ts) and blocks (block-routes.ts) follow the same rules.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { checkRequestPayload } from '../protocol/index.js';
import type { TetherConfig } from '../config/index.js';
import type { PhaseName } from '../contracts/phase.js';
import type { Service } from '../kernel/service.js';
import { OPERATOR_ACTIONS, runAction } from '../kernel/operator.js';
import { lifecycleJson } from '../kernel/views.js';
import { ChildNotFoundError } from '../runtime/index.js';
import { readJson } from './body.js';
import { DRILL_ROUTES } from './drills.js';
import { InvalidBodyError, UnhealthyError, UnreadyError } from './errors.js';
import type { SseHub } from './sse.js';
import { BLOCK_ROUTES } from './block-routes.js';
import { httpContext } from './context.js';
import { TASK_ROUTES } from './task-routes.js';
import { phaseAtLeast, stateView, statusView, treeView } from './views.js';

export interface RouteContext {
  readonly service: Service;
  readonly http: TetherConfig['http'];
  readonly sse: SseHub;
  /** When the API started, for uptime. */
  readonly startedAt: number;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly params: Readonly<Record<string, string>>;
}

export interface Reply {
  status: number;
  /** Sent as JSON, unless `raw` is given. */
  body: unknown;
  headers?: Record<string, string>;
  /** Bytes sent as they are (a backup file), with their type. */
  raw?: { bytes: Uint8Array; contentType: string };
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path with `{name}` segments. */
  path: string;
  /** Needs the token, and is refused while the service stops. */
  mutating: boolean;
  /** A failure-drill route: absent (404) unless `http.drills` is on. */
  drill?: boolean;
  /** A controller's error code decides the status (routes that name blocks: BLOCK_NOT_FOUND is a 404). */
  controllerStatuses?: boolean;
  /** A Reply, or undefined when the handler answered itself (a stream). */
  handle(context: RouteContext): Promise<Reply | undefined>;
}

const READY_PHASE: Record<TetherConfig['http']['readyWhen'], PhaseName> = {
  synchronized: 'Synchronized',
  acknowledged: 'Acknowledged',
  connected: 'Connected',
};

const SERVICE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/healthz',
    mutating: false,
    // Deliberately no actor calls: a hung actor is the tree's business (heartbeats), not a reason to kill the process.
    async handle({ service }) {
      const { root, kernel } = service;
      if (root.state !== 'running') throw new UnhealthyError(root.state);
      return { status: 200, body: { status: 'ok', rootState: root.state, phase: kernel.state.phase.name } };
    },
  },
  {
    method: 'GET',
    path: '/readyz',
    mutating: false,
    async handle({ service, http }) {
      const { phase } = service.kernel.state;
      const needs = READY_PHASE[http.readyWhen];
      if (service.root.state !== 'running')
        throw new UnreadyError(phase.name, needs, 'the service is stopping');
      if (!phaseAtLeast(phase.name, needs)) {
        throw new UnreadyError(phase.name, needs, `the link is ${phase.name}, needs ${needs}`);
      }
      // "acknowledged" means a compatible controller of the right id; "connected" asks only for a link.
      if (phase.name === 'Acknowledged' && needs === 'Acknowledged') {
        const problem = phase.ack.firmwareError ?? phase.ack.identityError;
        if (problem !== undefined) throw new UnreadyError(phase.name, needs, `the controller is ${problem}`);
      }
      return { status: 200, body: { status: 'ready', phase: phase.name, needs } };
    },
  },
  {
    method: 'GET',
    path: '/api/status',
    mutating: false,
    async handle({ service, startedAt }) {
      return { status: 200, body: await statusView(service, startedAt) };
    },
  },
  {
    method: 'GET',
    path: '/api/tree',
    mutating: false,
    async handle({ service }) {
      return { status: 200, body: treeView(service) };
    },
  },
  {
    method: 'GET',
    path: '/api/events',
    mutating: false,
    async handle({ service, sse, request, response }) {
      sse.open(request, response, [['state', stateView(service)]]);
      return undefined;
    },
  },
  {
    method: 'POST',
    path: '/api/reconnect',
    mutating: true,
    async handle({ service, request }) {
      const body = await readJson(request, OPERATOR_ACTIONS.reconnect.body);
      return { status: 200, body: await runAction(httpContext(service, request), 'reconnect', body) };
    },
  },
  {
    method: 'PUT',
    path: '/api/autoconnecting',
    mutating: true,
    async handle({ service, request }) {
      const body = await readJson(request, OPERATOR_ACTIONS.autoconnecting.body);
      return { status: 200, body: await runAction(httpContext(service, request), 'autoconnecting', body) };
    },
  },
  {
    method: 'POST',
    path: '/api/actors/{id}/restart',
    mutating: true,
    async handle({ service, request, params }) {
      await readJson(request, z.strictObject({}));
      const id = params['id'] ?? '';
      if (id === '') throw new ChildNotFoundError(id);
      return { status: 200, body: await runAction(httpContext(service, request), 'restart-actor', { id }) };
    },
  },
  {
    method: 'POST',
    path: '/api/commands',
    mutating: true,
    async handle({ service, request }) {
      const body = await readJson(request, OPERATOR_ACTIONS.command.body);
      // Checked here as well, so that over HTTP a bad payload is a bad body like any other.
      const checked = checkRequestPayload(body.opcode, body.payload);
      if (!checked.ok) {
        throw new InvalidBodyError(`payload: ${checked.reason}`, [
          { path: 'payload', message: checked.reason },
        ]);
      }
      return { status: 200, body: await runAction(httpContext(service, request), 'command', body) };
    },
  },
  {
    method: 'GET',
    path: '/api/lifecycle',
    mutating: false,
    async handle({ service }) {
      return {
        status: 200,
        body: { ...lifecycleJson(service.lifecycle.view()), group: service.bus?.view() ?? null },
      };
    },
  },
  {
    method: 'PUT',
    path: '/api/lifecycle',
    mutating: true,
    async handle({ service, request }) {
      const body = await readJson(request, OPERATOR_ACTIONS.lifecycle.body);
      return { status: 200, body: await runAction(httpContext(service, request), 'lifecycle', body) };
    },
  },
];

export const ROUTES: readonly Route[] = [...SERVICE_ROUTES, ...TASK_ROUTES, ...BLOCK_ROUTES];

// ---------------------------------------------------------------- matching

export type Match =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong-method'; allowed: string[] }
  | { kind: 'none' };

const COMPILED = [...ROUTES, ...DRILL_ROUTES].map((route) => ({
  route,
  pattern: new RegExp(
    `^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`,
  ),
}));

/** `drills`: whether the failure-drill routes exist (http.drills); when not, they are unknown paths. */
export function matchRoute(method: string, path: string, drills = false): Match {
  const allowed: string[] = [];
  for (const { route, pattern } of COMPILED) {
    if (route.drill === true && !drills) continue;
    const found = pattern.exec(path);
    if (found === null) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(found.groups ?? {})) params[name] = safeDecode(value);
    return { kind: 'found', route, params };
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'none' };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

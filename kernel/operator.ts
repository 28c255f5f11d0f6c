/**
 * The operator actions, in one table: what each takes (a zod schema) and
 * what it does. HTTP routes and MQTT requests both end here, so an action
 * behaves and fails the same way whichever edge it came through; the edges
 * only read their transport (HTTP: path, headers, body; MQTT: topic, user
 * properties, payload) and check who asks.
 *
 *   action            body                                   HTTP route
 *   reconnect         {}                                     POST /api/reconnect
 *   autoconnecting    {"enabled": bool}                      PUT  /api/autoconnecting
 *   restart-actor     {"id": string}                         POST /api/actors/{id}/restart
 *   command           {"opcode", "payload"?, "timeoutMs"?}   POST /api/commands
 *   lifecycle         {"state": "started"|"paused"|"stopped"} PUT  /api/lifecycle
 *   task-submit       {"kind", "args"?}                      POST /api/tasks
 *   task-abort        {"id"} or {"all": true}                DELETE /api/tasks/{id}, POST /api/tasks/abort
 *
 * Over MQTT each is `<prefix>/<service>/cmd/<action>`. To add one, add a
 * row here: MQTT takes it at once, and its HTTP route is a few lines calling
 * runAction. The task actions are kernel/task-actions.ts's plain functions.
 */
import { z } from 'zod';
import { OPCODES, checkRequestPayload } from '../protocol/index.js';
import type { CommanderApi } from '../contracts/actors.js';
import { ACTOR_IDS, BadResponseError } from '../contracts/actors.js';
import { InvalidRequestError, UnknownActionError, invalidRequest } from '../contracts/bus.js';
import { LIFECYCLE_TARGETS } from '../contracts/lifecycle.js';
import { ChildNotFoundError, TetherError } from '../runtime/index.js';
import type { TriggerSource } from './lifecycle.js';
import { abortAllTasks, abortTask, submitTask } from './task-actions.js';
import type { Service } from './service.js';
import { childJson, lifecycleTransitionJson } from './views.js';

/** Room for the commander's own timeout to fire first, so a slow controller is a timeout with its opcode. */
const CALL_MARGIN_MS = 2000;
export const MAX_COMMAND_TIMEOUT_MS = 600_000;

export interface ActionContext {
  readonly service: Service;
  /** Who asks (recorded by the life cycle). */
  readonly source: TriggerSource;
}

export interface OperatorAction<S extends z.ZodType> {
  readonly body: S;
  run(context: ActionContext, body: z.output<S>): Promise<unknown>;
}

function action<S extends z.ZodType>(
  body: S,
  run: (context: ActionContext, body: z.output<S>) => Promise<unknown>,
): OperatorAction<S> {
  return { body, run };
}

export const OPERATOR_ACTIONS = {
  reconnect: action(z.strictObject({}), async ({ service }) => {
    const { phase, autoconnecting } = service.kernel.state;
    const disconnected =
      phase.name !== 'Disconnected' &&
      service.kernel.disconnect(phase.generation, 'an operator asked for a reconnect');
    return { disconnected, generation: phase.generation, autoconnecting };
  }),

  autoconnecting: action(z.strictObject({ enabled: z.boolean() }), async ({ service }, { enabled }) => {
    service.kernel.setAutoconnecting(enabled);
    return { autoconnecting: service.kernel.state.autoconnecting };
  }),

  'restart-actor': action(z.strictObject({ id: z.string().min(1).max(128) }), async ({ service }, { id }) => {
    const supervisor = service.root.findSupervisorOf(id);
    if (supervisor === undefined) throw new ChildNotFoundError(id);
    const before = supervisor.whichChildren().find((child) => child.id === id);
    await supervisor.terminateChild(id);
    const info = await supervisor.restartChild(id);
    return {
      ...childJson(info),
      supervisor: supervisor.id,
      previousIncarnation: before?.incarnation ?? null,
    };
  }),

  command: action(
    z.strictObject({
      opcode: z.enum(OPCODES),
      payload: z.unknown().optional(),
      timeoutMs: z.int().min(1).max(MAX_COMMAND_TIMEOUT_MS).optional(),
    }),
    async ({ service }, body) => {
      const checked = checkRequestPayload(body.opcode, body.payload);
      if (!checked.ok) {
        throw new InvalidRequestError(`payload: ${checked.reason}`, [
          { path: 'payload', message: checked.reason },
        ]);
      }
      const timeoutMs = body.timeoutMs ?? service.config.commander.timeoutMs;
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      const result = await commander
        .callWith({ timeoutMs: timeoutMs + CALL_MARGIN_MS }, 'request', body.opcode, checked.value, {
          timeoutMs,
        })
        .catch((error: unknown) => {
          // The controller answered, but the answer could not cross into this thread: a bad answer.
          if (TetherError.is(error, 'TETHER_MESSAGE_UNREADABLE')) {
            throw new BadResponseError(body.opcode, 0, `the answer could not be delivered: ${error.message}`);
          }
          throw error;
        });
      return { opcode: body.opcode, payload: result ?? null };
    },
  ),

  lifecycle: action(
    z.strictObject({ state: z.enum(LIFECYCLE_TARGETS) }),
    async ({ service, source }, { state }) => {
      const outcome = await service.lifecycle.trigger(state, source);
      return {
        state: outcome.state,
        ignored: outcome.ignored,
        transition: outcome.ignored ? null : lifecycleTransitionJson(outcome.transition),
      };
    },
  ),

  /**
   * Submits a tracked task: the task, QUEUED, or REJECTED at once with the
   * reason (the HTTP route answers a rejection with its code's status).
   */
  'task-submit': action(
    z.strictObject({ kind: z.string().min(1).max(64), args: z.unknown().optional() }),
    async ({ service }, { kind, args }) => ({ task: submitTask(service.tasks, kind, args) }),
  ),

  /** Aborts one task (`id`) or every queued and running one (`all`). */
  'task-abort': action(
    z.union([z.strictObject({ id: z.string().min(1).max(64) }), z.strictObject({ all: z.literal(true) })]),
    async ({ service }, body) =>
      'id' in body ? { task: abortTask(service.tasks, body.id) } : { tasks: abortAllTasks(service.tasks) },
  ),
} as const;

export type ActionName = keyof typeof OPERATOR_ACTIONS;
export type ActionBody<N extends ActionName> = z.output<(typeof OPERATOR_ACTIONS)[N]['body']>;

export const ACTION_NAMES = Object.keys(OPERATOR_ACTIONS) as ActionName[];

export function isActionName(name: string): name is ActionName {
  return Object.hasOwn(OPERATOR_ACTIONS, name);
}

/** Runs an action whose body the edge has already checked against the action's schema. */
export function runAction<N extends ActionName>(
  context: ActionContext,
  name: N,
  body: ActionBody<N>,
): Promise<unknown> {
  const entry = OPERATOR_ACTIONS[name] as unknown as OperatorAction<z.ZodType<ActionBody<N>>>;
  return entry.run(context, body);
}

/**
 * Runs an action from a name and a body nobody has checked yet (a request
 * from the broker): UnknownActionError for a name not in the table,
 * InvalidRequestError for a body that is not the action's shape.
 */
export async function performAction(context: ActionContext, name: string, body: unknown): Promise<unknown> {
  if (!isActionName(name)) throw new UnknownActionError(name, ACTION_NAMES);
  const entry = OPERATOR_ACTIONS[name] as unknown as OperatorAction<z.ZodType>;
  const parsed = entry.body.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return entry.run(context, parsed.data);
}

/**
 * What the task kinds are handed (by the kernel, which assembles them): the
 * kernel's phase and component state, the commander, the blocks API, the
 * pool executor for CPU work, and their settings. Interfaces only: tasks/
 * sits below the actors and the kernel and reaches them through these.
 */
import type { TetherConfig } from '../../config/index.js';
import type { CommandOptions, PhaseSource } from '../../contracts/actors.js';
import { NotReadyError } from '../../contracts/actors.js';
import type { BlocksApi } from '../../contracts/blocks.js';
import type { ComponentSource } from '../../contracts/component.js';
import type { Phase } from '../../contracts/phase.js';
import type { Opcode, RequestPayload, ResponsePayload } from '../../protocol/index.js';
import type { Executor } from '../executor.js';
import type { TaskProblem } from '../model.js';

export interface ControllerPort {
  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options?: CommandOptions,
  ): Promise<ResponsePayload<O>>;
}

export interface KernelPort extends PhaseSource, ComponentSource {
  /** Closes the link of `generation` if it is current (a nudge for a stuck waiting state). */
  disconnect(generation: number, reason: string): boolean;
}

export interface TaskDeps {
  kernel: KernelPort;
  commander: ControllerPort;
  blocks: BlocksApi;
  /** Runs CPU jobs (validating, serializing) off the main thread; untracked from the tasks' side. */
  pool: Executor;
  /** Why the pool refuses jobs at once now (it is down), or undefined: the tasks that need it are then REJECTED. */
  poolDown?: () => string | undefined;
  /** `<stateDir>/backups`. */
  backupsDir: string;
  /** proto_versions this build supports (lower case). */
  protoVersions: readonly string[];
  settings: TetherConfig['tasks'];
}

export type SynchronizedPhase = Extract<Phase, { name: 'Synchronized' }>;

/** The Synchronized phase, or NotReadyError naming what the task needs. */
export function synchronizedPhase(kernel: PhaseSource, what: string): SynchronizedPhase {
  const { phase } = kernel.state;
  if (phase.name !== 'Synchronized') throw new NotReadyError(what, phase.name, 'Synchronized');
  return phase;
}

/**
 * The precondition of every task that needs the pool: the pool is not down
 * (its supervisor backing off after it kept failing). A task would fail on
 * its first job; it is REJECTED instead, never queued to fail later.
 */
export function poolReady(deps: Pick<TaskDeps, 'poolDown'>, kind: string): TaskProblem | undefined {
  const why = deps.poolDown?.();
  if (why === undefined) return undefined;
  return {
    code: 'TETHER_POOL_STOPPED',
    message: `task "${kind}" needs the task pool, which is down: ${why}`,
  };
}

/** The precondition of every controller task: a Synchronized link (and, for some, autoconnecting on). */
export function controllerReady(
  kernel: PhaseSource,
  kind: string,
  needsAutoconnect: boolean,
): TaskProblem | undefined {
  const { phase, autoconnecting } = kernel.state;
  if (phase.name !== 'Synchronized') {
    return {
      code: 'TETHER_NOT_READY',
      message: `task "${kind}" needs a Synchronized controller; the link is ${phase.name}`,
    };
  }
  if (needsAutoconnect && !autoconnecting) {
    return {
      code: 'TETHER_AUTOCONNECT_OFF',
      message: `task "${kind}" needs autoconnecting on: it waits for the link to come back`,
    };
  }
  return undefined;
}

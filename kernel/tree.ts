/**
 * The default supervision tree of the design, from the configuration:
 *
 *   root             one_for_one, backoff when intensity is spent
 *   +- device        rest_for_one
 *   |  +- connection       (permanent)
 *   |  +- commander        (permanent)
 *   |  +- synchronization  (permanent)
 *   +- watchdog      (permanent)
 *   +- bus           one_for_one, never gives up, backs off (only with mqtt.url)
 *   |  +- mqtt             (permanent)
 *   +- tasks         one_for_one, never gives up, backs off
 *      +- task-pool        pool (piscina) for the tasks' CPU work, from tasks.pool
 *
 * rest_for_one because commander needs connection and synchronization needs
 * both: when connection restarts, those after it restart too. The MQTT link
 * has a supervisor of its own that never gives up, so a broker that keeps it
 * failing never spends the root's intensity (which would restart the device
 * link); with no broker configured there is no bus branch and no thread.
 * The task pool has one too, for the same reason: a pool that keeps failing
 * (a module that cannot load, threads dying while idle) spends the tasks
 * supervisor's intensity, not the root's. When that is spent, the tasks
 * supervisor stops the pool, backs off and starts it again, as bus does for
 * the broker link: meanwhile the pool is down and a task that needs it is
 * refused at once with PoolStoppedError (TETHER_POOL_STOPPED), while the
 * device link stays as it is. It comes last, so it stops first (the service
 * closes its tasks before stopping the tree); its threads start with its
 * first job.
 */
import { COMMANDER_MODULE } from '../actors/commander/actor.js';
import { CONNECTION_MODULE } from '../actors/connection/actor.js';
import { SYNCHRONIZATION_MODULE } from '../actors/synchronization/actor.js';
import { WATCHDOG_MODULE } from '../actors/watchdog/actor.js';
import { MQTT_MODULE } from '../actors/mqtt/actor.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import { BUS_IDS } from '../contracts/bus.js';
import type { ChildName, TetherConfig } from '../config/index.js';
import { childPolicy, supervisorFlags } from '../config/index.js';
import type { PoolChildSpec, SupervisorChildSpec, WorkerChildSpec } from '../supervisors/index.js';
import { POOL_ENTRY } from '../tasks/index.js';

/** The task pool's id: `system.pool(TASK_POOL_ID)` runs the tasks' CPU work. */
export const TASK_POOL_ID = 'task-pool';

/** The task pool's supervisor (a child of the root). */
export const TASKS_SUPERVISOR_ID = 'tasks';

/** How long stopping the pool lets a job finish (the service aborts its tasks before, within TASKS_CLOSE_BOUND_MS). */
const TASK_POOL_SHUTDOWN_MS = 2000;

const MODULES: Record<ChildName, string> = {
  connection: CONNECTION_MODULE,
  commander: COMMANDER_MODULE,
  synchronization: SYNCHRONIZATION_MODULE,
  watchdog: WATCHDOG_MODULE,
  mqtt: MQTT_MODULE,
};

const IDS: Record<ChildName, string> = { ...ACTOR_IDS, mqtt: BUS_IDS.mqtt };

/** The task pool child, sized from tasks.pool. */
export function taskPool(config: TetherConfig): PoolChildSpec {
  const pool = config.tasks.pool;
  return {
    id: TASK_POOL_ID,
    kind: 'pool',
    module: POOL_ENTRY,
    threads: { min: 0, max: pool.maxThreads },
    maxQueue: pool.maxQueue,
    idleTimeoutMs: pool.idleTimeoutMs,
    resourceLimits: { maxOldGenerationSizeMb: pool.memoryLimitMb },
    niceIncrement: pool.niceIncrement,
    shutdown: TASK_POOL_SHUTDOWN_MS,
  };
}

function actor(config: TetherConfig, name: ChildName): WorkerChildSpec {
  return { id: IDS[name], kind: 'worker', module: MODULES[name], config, ...childPolicy(config, name) };
}

/** The root supervisor's spec; every actor gets the whole configuration as its config. */
export function serviceTree(config: TetherConfig): {
  id: string;
  flags: SupervisorChildSpec['flags'];
  children: SupervisorChildSpec['children'];
} {
  return {
    id: 'root',
    flags: supervisorFlags(config, 'root'),
    children: [
      {
        id: 'device',
        kind: 'supervisor',
        flags: supervisorFlags(config, 'device'),
        children: [actor(config, 'connection'), actor(config, 'commander'), actor(config, 'synchronization')],
      },
      actor(config, 'watchdog'),
      ...(config.mqtt.url === ''
        ? []
        : [
            {
              id: BUS_IDS.supervisor,
              kind: 'supervisor' as const,
              flags: supervisorFlags(config, 'bus'),
              children: [actor(config, 'mqtt')],
            },
          ]),
      {
        id: TASKS_SUPERVISOR_ID,
        kind: 'supervisor',
        flags: supervisorFlags(config, 'tasks'),
        children: [taskPool(config)],
      },
    ],
  };
}

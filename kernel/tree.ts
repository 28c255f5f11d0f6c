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
 *      +- mqtt             (permanent)
 *
 * rest_for_one because commander needs connection and synchronization needs
 * both: when connection restarts, those after it restart too. The MQTT link
 * has a supervisor of its own that never gives up, so a broker that keeps it
 * failing never spends the root's intensity (which would restart the device
 * link); with no broker configured there is no bus branch and no thread.
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
import type { SupervisorChildSpec, WorkerChildSpec } from '../supervisors/index.js';

const MODULES: Record<ChildName, string> = {
  connection: CONNECTION_MODULE,
  commander: COMMANDER_MODULE,
  synchronization: SYNCHRONIZATION_MODULE,
  watchdog: WATCHDOG_MODULE,
  mqtt: MQTT_MODULE,
};

const IDS: Record<ChildName, string> = { ...ACTOR_IDS, mqtt: BUS_IDS.mqtt };

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
    ],
  };
}

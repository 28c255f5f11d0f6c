/**
 * The service with its MQTT link in this process (the e2e harness) and a
 * real mosquitto: configuration, a stream of commands to show the device
 * link is untouched, and what the MQTT actor reports.
 */
import type { CommanderApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import type { MqttStatus, StateDocument } from '../../contracts/bus.js';
import type { DeepPartial, TetherConfig } from '../../config/index.js';
import type { Service } from '../../kernel/service.js';
import type { Broker } from '../mqtt/broker.js';

export function mqttConfig(broker: Broker, extra: DeepPartial<TetherConfig> = {}): DeepPartial<TetherConfig> {
  return {
    ...extra,
    // Loading mqtt.js takes a worker seconds on a busy machine: room for it, so that is not what fails.
    supervision: {
      children: { mqtt: { startTimeoutMs: 30_000, heartbeat: { intervalMs: 1000, timeoutMs: 10_000 } } },
    },
    // These tests assert that the device link never changes phase and no command fails while the
    // broker misbehaves (a mosquitto restarting, a worker loading mqtt.js): a check or a command
    // that a busy machine answers in over a second must not count as a silent controller here.
    watchdog: { idleMs: 1000, timeoutMs: 10_000, ...extra.watchdog },
    commander: { timeoutMs: 10_000, ...extra.commander },
    mqtt: {
      url: broker.url,
      service: 'e2e',
      minIntervalMs: 50,
      reconnect: { initialMs: 100, factor: 2, maxMs: 1000 },
      ...extra.mqtt,
    },
  };
}

export const isSynchronized = (doc: StateDocument): boolean => doc.data.phase.name === 'Synchronized';

/** Commands sent one after another until stopped; every failure kept. */
export function keepCommanding(service: Service): { stop(): Promise<{ ok: number; failures: unknown[] }> } {
  const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
  const failures: unknown[] = [];
  let ok = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await commander.call('request', 'BLOCK_LIST', undefined);
        ok += 1;
      } catch (error) {
        failures.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}

export function mqttStatus(service: Service): MqttStatus | undefined {
  return service.kernel.reports().get('mqtt') as MqttStatus | undefined;
}

/** Incarnations of the device actors, to show that none of them restarted. */
export function deviceIncarnations(service: Service): string {
  const device = service.root.whichChildren().find((c) => c.id === 'device');
  return JSON.stringify(device?.children?.map((c) => [c.id, c.incarnation]));
}

/**
 * The MQTT actor: wires the broker link (link.ts) to the kernel. It runs in
 * a worker of its own under the `bus` supervisor, so a broker that is down,
 * slow, refusing or flapping costs this thread at most, never the device
 * link, the commands or the HTTP API; and since its supervisor never gives
 * up, its failures never spend the root's restart intensity.
 *
 * Requests and group transitions go to the main thread as calls with
 * deadlines (BusApi, served as `bus-kernel`); the state and events come
 * from it as casts.
 */
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { TetherConfig } from '../../config/schema.js';
import type { KernelApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import type { BusApi, MqttApi } from '../../contracts/bus.js';
import { BUS_IDS } from '../../contracts/bus.js';
import { MqttLink } from './link.js';
import { linkSettings } from './settings.js';

/** A request may run a command with the longest timeout HTTP allows (10 min); the kernel bounds it, this only backs it up. */
const PERFORM_DEADLINE_MS = 610_000;
/** A group transition runs the life cycle's implementation, itself bounded (kernel/lifecycle.ts). */
const GROUP_DEADLINE_MS = 60_000;
const HELLO_DEADLINE_MS = 5000;

const mqttActor = defineActor((ctx: ActorContext<TetherConfig>) => {
  const bus = ctx.ref<BusApi>(BUS_IDS.kernel);
  const kernel = ctx.ref<KernelApi>(ACTOR_IDS.kernel);
  const link = new MqttLink(linkSettings(ctx.config), {
    perform: (action, body) => bus.callWith({ timeoutMs: PERFORM_DEADLINE_MS }, 'perform', action, body),
    groupTransition: (message, joining) =>
      bus.callWith({ timeoutMs: GROUP_DEADLINE_MS }, 'groupTransition', message, joining),
    joined: () => bus.cast('joined'),
    groupPublished: (seq) => bus.cast('groupPublished', seq),
    report: (status) => kernel.cast('report', BUS_IDS.mqtt, { ...status }),
    log: ctx.log,
  });
  // Not awaited: init stays quick (mqtt.js loads after it). A CA file that cannot be read fails the
  // actor from a fresh macrotask, so it is a crash its supervisor restarts (with backoff), not a
  // rejected handler.
  link.start().catch((error: unknown) => {
    ctx.log.error('the MQTT link cannot start', {
      error: error instanceof Error ? error.message : String(error),
    });
    setImmediate(() => {
      throw error;
    });
  });
  // A new incarnation has empty slots: the kernel hands over the state and any unpublished transition.
  // After init, not in it: init must be quick, and casts that arrive meanwhile are newer anyway.
  void bus.callWith({ timeoutMs: HELLO_DEADLINE_MS }, 'hello').then(
    (hello) => {
      link.adopt(hello.state, hello.group);
    },
    (error: unknown) => {
      ctx.log.warn('could not fetch the state from the kernel; waiting for its next change', {
        error: error instanceof Error ? error.message : String(error),
      });
    },
  );

  const handlers: MqttApi = {
    publishState: (document) => link.publishState(document),
    publishEvent: (kind, payload) => link.publishEvent(kind, payload),
    publishGroup: (message) => link.publishGroup(message),
    status: () => link.status(),
  };
  return {
    handlers,
    terminate: () => link.stop(),
  };
});

export default mqttActor;
export const MQTT_MODULE = new URL('./actor.js', import.meta.url).href;

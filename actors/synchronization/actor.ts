/**
 * The synchronization actor: wires the Synchronizer (synchronization.ts) to
 * its context. The logic lives there; this file only turns refs into the
 * small ports it takes.
 */
import type { CommanderApi, KernelApi, SynchronizationApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import type { ControllerEvent, Opcode, RequestPayload, ResponsePayload } from '../../protocol/index.js';
import type { CommandOptions, KernelState } from '../../contracts/actors.js';
import type { TetherConfig } from '../../config/schema.js';
import { defineActor } from '../../runtime/actor-entry.js';
import type { ActorContext } from '../../runtime/actor-entry.js';
import { FileDatastore } from './datastore.js';
import type { CommanderPort, KernelPort } from './synchronization.js';
import { Synchronizer, realTimers, synchronizationConfig } from './synchronization.js';

/**
 * A command may take up to its own timeout at the commander; the call to the
 * commander gets this much more, so the commander's own error (with its
 * code) arrives rather than a bare call timeout.
 */
const CALL_MARGIN_MS = 2000;

const synchronization = defineActor<SynchronizationApi, TetherConfig>((ctx: ActorContext<TetherConfig>) => {
  const config = ctx.config;
  const commanderRef = ctx.ref<CommanderApi>(ACTOR_IDS.commander);
  const kernelRef = ctx.ref<KernelApi>(ACTOR_IDS.kernel);

  const commander: CommanderPort = {
    request<O extends Opcode>(
      opcode: O,
      payload: RequestPayload<O>,
      options?: CommandOptions,
    ): Promise<ResponsePayload<O>> {
      const timeoutMs = (options?.timeoutMs ?? config.commander.timeoutMs) + CALL_MARGIN_MS;
      // The ref types a generic handler by its widest signature; the commander keeps the opcode's promise.
      return commanderRef.callWith({ timeoutMs }, 'request', opcode, payload, options) as Promise<
        ResponsePayload<O>
      >;
    },
  };
  const kernel: KernelPort = {
    state: () => kernelRef.call('state'),
    transition: (request) => kernelRef.call('transition', request),
    disconnect: (generation, reason, retryInMs) =>
      kernelRef.call('disconnect', generation, reason, retryInMs),
    component: (generation, report) => kernelRef.cast('component', generation, report),
  };

  const synchronizer = new Synchronizer({
    commander,
    kernel,
    datastore: new FileDatastore(config.stateDir),
    log: ctx.log,
    timers: realTimers,
    config: synchronizationConfig(config),
    crash: (error) => {
      // Thrown outside any handler, so the worker's uncaughtException turns it
      // into a crash of this incarnation; the supervisor restarts it.
      setImmediate(() => {
        throw error;
      });
    },
  });
  // Not awaited: init stays quick, and a kernel cast that arrives first is ordered by generation anyway.
  void synchronizer.start();

  return {
    handlers: {
      onKernelState: (state: KernelState) => synchronizer.onKernelState(state),
      onEvent: (generation: number, event: ControllerEvent) => {
        // Not awaited, so the next event is taken in at once (the Synchronizer
        // keeps their order). It handles every expected failure itself; a
        // rejection here is a bug, and crashing on it is what gets it restarted.
        void synchronizer.onEvent(generation, event);
      },
      status: () => synchronizer.status(),
    },
    terminate: () => synchronizer.close(),
  };
});

export default synchronization;
export const SYNCHRONIZATION_MODULE = new URL('./actor.js', import.meta.url).href;

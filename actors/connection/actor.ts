/**
 * The connection actor: wires the Connection class (connection.ts) to its
 * peers. Everything it sends to commander, synchronization and watchdog is a
 * cast (the hot path never waits for a reply); only the kernel is called.
 */
import type { TetherConfig } from '../../config/index.js';
import { defineActor, type ActorContext, type ApiOf } from '../../runtime/actor.js';
import {
  ACTOR_IDS,
  type CommanderApi,
  type ConnectionApi,
  type KernelApi,
  type KernelState,
  type SynchronizationApi,
  type WatchdogApi,
} from '../../contracts/actors.js';
import { Connection } from './connection.js';

const connection = defineActor(
  (ctx: ActorContext<TetherConfig>) => {
    const kernel = ctx.ref<KernelApi>(ACTOR_IDS.kernel);
    const commander = ctx.ref<CommanderApi>(ACTOR_IDS.commander);
    const synchronization = ctx.ref<SynchronizationApi>(ACTOR_IDS.synchronization);
    const watchdog = ctx.ref<WatchdogApi>(ACTOR_IDS.watchdog);
    const logic = new Connection({
      config: ctx.config,
      log: ctx.log,
      peers: {
        kernel: {
          transition: (request) => kernel.call('transition', request),
          state: () => kernel.call('state'),
          requestRediscoveryExit: (reason) => kernel.call('requestRediscoveryExit', reason),
        },
        onResponse: (generation, frame) => commander.cast('onResponse', generation, frame),
        onBadResponse: (generation, msgId, reason) =>
          commander.cast('onBadResponse', generation, msgId, reason),
        onEvent: (generation, event) => synchronization.cast('onEvent', generation, event),
        onActivity: (generation, at) => watchdog.cast('onActivity', generation, at),
      },
    });
    // Not awaited: init must not wait on the kernel; the loop starts once its state arrives.
    void logic.start();
    const handlers = {
      onKernelState: (state: KernelState) => logic.onKernelState(state),
      write: (generation: number, frame: string) => logic.write(generation, frame),
      closeLink: (generation: number, reason: string) => logic.closeLink(generation, reason),
      status: () => logic.status(),
    } satisfies ConnectionApi;
    return { handlers, terminate: () => logic.terminate() };
    // Every command's frame passes through here. Its spans (discovery, connect, a write) are
    // started with their parents given and its attempt's log lines are logged in the attempt's
    // context, so the synchronous context is enough and no promise pays for an async one.
  },
  { traceContext: 'sync' },
);

export default connection;
export type ConnectionActorApi = ApiOf<typeof connection>;
export const CONNECTION_MODULE = new URL('./actor.js', import.meta.url).href;

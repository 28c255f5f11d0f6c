/**
 * The watchdog actor: wires the Watchdog class (watchdog.ts) to its peers.
 * The NONE goes through the commander (which owns msgIds); the actor call
 * gets a deadline a little past the request's own timeout, so the check
 * settles even if the commander is restarting or stuck.
 */
import { defineActor, type ActorContext } from '../../runtime/actor-entry.js';
import type { TetherConfig } from '../../config/schema.js';
import type { CommanderApi, KernelApi, WatchdogApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import { Watchdog } from './watchdog.js';

/** Extra time the actor call gets over the NONE's own timeout (a thread hop each way, a busy mailbox). */
const CALL_MARGIN_MS = 1000;
const KERNEL_CALL_TIMEOUT_MS = 5000;

const watchdog = defineActor((ctx: ActorContext<TetherConfig>) => {
  const commander = ctx.ref<CommanderApi>(ACTOR_IDS.commander);
  const kernel = ctx.ref<KernelApi>(ACTOR_IDS.kernel);
  const logic = new Watchdog(
    { idleMs: ctx.config.watchdog.idleMs, timeoutMs: ctx.config.watchdog.timeoutMs },
    {
      ping: (timeoutMs) =>
        commander.callWith({ timeoutMs: timeoutMs + CALL_MARGIN_MS }, 'request', 'NONE', undefined, {
          minPhase: 'Connected',
          timeoutMs,
          internal: true,
        }),
      kernel: {
        state: () => kernel.callWith({ timeoutMs: KERNEL_CALL_TIMEOUT_MS }, 'state'),
        disconnect: (generation, reason) =>
          kernel.callWith({ timeoutMs: KERNEL_CALL_TIMEOUT_MS }, 'disconnect', generation, reason),
        report: (facts) => kernel.cast('report', ACTOR_IDS.watchdog, facts),
      },
      log: ctx.log,
    },
  );
  // A restarted watchdog has missed the casts before it: catch up with the kernel.
  void logic.refreshState().then((ok) => {
    if (!ok) ctx.log.warn('could not fetch the kernel state at start; waiting for its next cast');
  });

  const handlers: WatchdogApi = {
    onActivity: (generation, at) => logic.onActivity(generation, at),
    onKernelState: (state) => logic.onKernelState(state),
    health: () => logic.health(),
  };
  return {
    handlers,
    terminate: () => logic.terminate(),
  };
});

export default watchdog;
export const WATCHDOG_MODULE = new URL('./actor.js', import.meta.url).href;

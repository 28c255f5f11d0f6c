/**
 * The commander actor: wires the Commander class (commander.ts) to its peers.
 * Writes go to connection as casts (fire-and-forget: a lost write shows up
 * as a timeout, as a lost byte on the wire would); the kernel is asked for
 * its state and for disconnects with calls that have their own deadline.
 */
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { TetherConfig } from '../../config/schema.js';
import type { CommanderApi, ConnectionApi, KernelApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import { Commander } from './commander.js';

/** A kernel call is a main-thread round trip; this only bounds a kernel that is stuck. */
const KERNEL_CALL_TIMEOUT_MS = 5000;

const commander = defineActor(
  (ctx: ActorContext<TetherConfig>) => {
    const connection = ctx.ref<ConnectionApi>(ACTOR_IDS.connection);
    const kernel = ctx.ref<KernelApi>(ACTOR_IDS.kernel);
    const logic = new Commander(
      {
        timeoutMs: ctx.config.commander.timeoutMs,
        checkTimeoutMs: ctx.config.watchdog.timeoutMs,
        recovery: ctx.config.recovery.commandTimeout,
        traceWrites: ctx.config.telemetry.writeSpans,
      },
      {
        connection: { write: (generation, frame) => connection.cast('write', generation, frame) },
        kernel: {
          state: () => kernel.callWith({ timeoutMs: KERNEL_CALL_TIMEOUT_MS }, 'state'),
          disconnect: (generation, reason) =>
            kernel.callWith({ timeoutMs: KERNEL_CALL_TIMEOUT_MS }, 'disconnect', generation, reason),
        },
        log: ctx.log,
        crash: (error) => {
          // Thrown from a fresh macrotask, outside any handler, so it is an
          // uncaught exception: the runtime reports the worker as crashed and
          // the supervisor restarts it (a handler's throw would only reject one call).
          setImmediate(() => {
            throw error;
          });
        },
      },
    );
    // A restarted commander has missed the casts before it: catch up with the kernel.
    void logic.refreshState().then((ok) => {
      if (!ok) ctx.log.warn('could not fetch the kernel state at start; waiting for its next cast');
    });

    const handlers: CommanderApi = {
      request: (opcode, payload, options) => logic.request(opcode, payload, options),
      onResponse: (generation, frame) => logic.onResponse(generation, frame),
      onBadResponse: (generation, msgId, reason) => logic.onBadResponse(generation, msgId, reason),
      onKernelState: (state) => logic.onKernelState(state),
      status: () => logic.status(),
    };
    return {
      handlers,
      terminate: () => logic.terminate(),
    };
    // Every command passes through here: a request's span starts before its
    // first await and is handed explicitly to the write it causes, so the
    // synchronous context is enough and no promise pays for an async one.
  },
  { traceContext: 'sync' },
);

export default commander;
export const COMMANDER_MODULE = new URL('./actor.js', import.meta.url).href;

/**
 * Every message that crosses a thread boundary in the runtime, as
 * discriminated unions. Types only: the whole protocol fits on a screen.
 *
 * Two kinds of channel:
 *  - control: the host (main thread) and one actor's worker, over the
 *    worker's parentPort. Life cycle, heartbeat, peer wiring, logs.
 *  - call: a ref holder (main thread or another worker) and one incarnation
 *    of an actor, over a MessagePort of their own. Calls, casts, replies.
 *    Several call messages may travel as one array (batching).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from './errors.js';

// ------------------------------------------------------------------ control

export type HostToWorker =
  | {
      type: 'init';
      id: string;
      incarnation: number;
      config: unknown;
      /** simple_one_for_one start arguments; [] for other children. */
      args: readonly unknown[];
      traceparent: string;
    }
  | { type: 'ping'; seq: number }
  | { type: 'stop'; reason: 'shutdown' }
  /** A new ref holder wants to call this incarnation: serve calls on this port. */
  | { type: 'accept'; port: MessagePort }
  /** A peer this worker holds a ref to is up: call it on this port. */
  | { type: 'peer-up'; peerId: string; port: MessagePort }
  /** A peer this worker holds a ref to went down; `stopped` when it will not come back by itself. */
  | { type: 'peer-down'; peerId: string; stopped: boolean; why: string }
  /** Fault injection for tests and drills: make the actor crash, hang or run out of memory as if its own code did. */
  | { type: 'inject-fault'; fault: InjectedFault };

export type InjectedFault = 'crash' | 'hang' | 'oom';

export type WorkerToHost =
  /** The bootstrap and the actor module are loaded: the worker can take an identity (warm standby). */
  | { type: 'loaded' }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'ready' }
  /** Init returned 'ignore': no incarnation, and not a failure. */
  | { type: 'ignored' }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'pong'; seq: number }
  | { type: 'stopped' }
  /** The actor asked to end itself with this reason (a shutdown may carry a term). */
  | { type: 'exit-self'; reason: 'normal' | 'shutdown'; term?: unknown }
  /** Sent from the uncaught-exception / unhandled-rejection hooks just before the worker exits. */
  | { type: 'crash'; error: SerializedError; origin: 'uncaughtException' | 'unhandledRejection' }
  /** The actor wants a ref to a peer: the host wires it up and keeps it wired across restarts. */
  | { type: 'want-peer'; peerId: string }
  | { type: 'log'; level: LogLevel; msg: string; fields: Record<string, unknown> }
  /**
   * Telemetry the worker's telemetry module handed over (ended spans, collected
   * metrics), for the main thread's one exporter. Opaque to the runtime.
   */
  | { type: 'telemetry'; payload: unknown };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

// --------------------------------------------------------------------- call

export type CallMessage =
  | { t: 'call'; id: number; m: string; a: unknown[]; tp: string }
  | { t: 'cast'; m: string; a: unknown[]; tp: string }
  | { t: 'ok'; id: number; v: unknown }
  | { t: 'err'; id: number; e: SerializedError };

/**
 * What one postMessage on a call port carries: a batch of call messages laid
 * flat in one array of (mostly) small integers, since structured cloning a
 * flat array costs far less than cloning an object per message. Each message
 * is a header integer (kind, argument count, method and traceparent as
 * indexes into string tables the packet carries inline) followed by its id,
 * arguments or value. `wire.ts` is the only code that reads or writes this
 * layout, and describes it.
 */
export type CallPacket = unknown[];

/**
 * Entry point of every actor worker. It loads the actor module at once and
 * says `loaded`, then waits for an identity (`init`): that is what makes a
 * warm standby possible, since a restart only has to send the identity and
 * run init. It also answers heartbeats on its own, outside the actor's
 * handlers, so only a blocked event loop misses them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { MessageChannel, parentPort, workerData } from 'node:worker_threads';
import type {
  ActorContext,
  ActorInstance,
  ActorLogger,
  ExitKind,
  SelfExit,
  TraceContextMode,
} from '../actor.js';
import { isActorDefinition } from '../actor.js';
import { TetherError, serializeError } from '../errors.js';
import type { HostToWorker, LogLevel, WorkerToHost } from '../messages.js';
import type { ActorRef, ApiShape } from '../ref.js';
import { RefCore } from '../ref.js';
import { CallServer } from '../server.js';
import type { AnyHandler, TraceScope } from '../server.js';

export interface BootstrapData {
  /** URL of the actor module. */
  module: string;
  /** Default deadline for calls this actor makes. */
  callTimeoutMs: number;
  stashLimit: number;
  /**
   * A standby: run a call through the call path while waiting, so the first
   * calls after the restart that takes it are compiled already. Not for a
   * worker started for a new child: its first real call does that compiling
   * anyway, and an idle actor would keep the warm-up's code for nothing.
   */
  warmCallPath: boolean;
  /** Set when telemetry is on: a module to load first (see WorkerTelemetryModule). */
  telemetry?: WorkerTelemetryInit;
}

/** Which telemetry module a worker loads, and what it is given. */
export interface WorkerTelemetryInit {
  /** URL of a module exporting `installWorkerTelemetry` (WorkerTelemetryModule). */
  module: string;
  /** Structured-cloneable options for it. */
  options: unknown;
}

/**
 * The worker side of telemetry, as the bootstrap sees it. The runtime knows
 * nothing of OpenTelemetry: it only asks this for the traceparent of outgoing
 * calls, runs handlers through it, and posts what it hands over.
 */
export interface WorkerTelemetry {
  /** The traceparent outgoing calls and casts carry: the active span's ('' outside any). */
  currentTraceparent(): string;
  /**
   * Runs a handler (or init) with the trace context of `traceparent` as its
   * parent ('' for none). This replaces the runtime's own store: one store
   * per thread, so a message costs one context switch, not two.
   */
  inTrace: TraceScope;
  /** `trace_id` / `span_id` of the active span, for a log line; {} outside one. */
  logFields(): Record<string, string>;
  /** How far a message's context follows its handler (the actor's choice, known once its module is loaded). */
  setTraceContext(mode: TraceContextMode): void;
  /** Hands over whatever is pending now (before the thread ends). */
  flush(): Promise<void>;
}

export interface WorkerTelemetryHooks {
  options: unknown;
  /** Sends telemetry to the host (the main thread's exporter). */
  handOver(payload: unknown): void;
}

export interface WorkerTelemetryModule {
  installWorkerTelemetry(hooks: WorkerTelemetryHooks): WorkerTelemetry | Promise<WorkerTelemetry>;
}

if (parentPort === null) throw new Error('the actor bootstrap runs only inside a worker thread');
const control = parentPort;
const data = workerData as BootstrapData;

function post(message: WorkerToHost): void {
  control.postMessage(message);
}

// A crash is told to the host before the thread goes, with the error intact
// (code, cause and stack), which the Worker 'error' event would not keep.
// The call ports are closed first: replies already made still go out, and
// callers learn at once (the close travels behind them) that the rest of
// their calls will not be answered, without waiting for the thread's end.
let crashing = false;
function crash(origin: 'uncaughtException' | 'unhandledRejection', error: unknown): void {
  if (crashing) return;
  crashing = true;
  server?.closeAll();
  // Spans ended before the crash (the one that failed included) still reach the exporter.
  void telemetry?.flush();
  post({ type: 'crash', error: serializeError(error), origin });
  process.exit(1);
}
process.on('uncaughtException', (error) => crash('uncaughtException', error));
process.on('unhandledRejection', (reason) => crash('unhandledRejection', reason));

/**
 * Without telemetry the runtime keeps the message's traceparent itself, so
 * calls an actor makes carry on its caller's; nothing runs in it for a
 * message that has none.
 */
const traceStore = new AsyncLocalStorage<string>();
const inRuntimeTrace: TraceScope = (traceparent, handler, args) =>
  traceparent === '' ? handler(...args) : traceStore.run(traceparent, handler, ...args);
const peers = new Map<string, RefCore<ApiShape>>();
let instance: ActorInstance<ApiShape> | undefined;
let server: CallServer | undefined;
let ending = false;
let telemetry: WorkerTelemetry | undefined;

let definition: unknown;
try {
  if (data.telemetry !== undefined) {
    const plugin = (await import(data.telemetry.module)) as WorkerTelemetryModule;
    telemetry = await plugin.installWorkerTelemetry({
      options: data.telemetry.options,
      handOver: (payload) => post({ type: 'telemetry', payload }),
    });
  }
  const loaded = (await import(data.module)) as { default?: unknown };
  definition = loaded.default;
  if (!isActorDefinition(definition)) {
    throw new TetherError(
      'TETHER_NOT_AN_ACTOR',
      `module ${data.module} does not export default defineActor(...)`,
    );
  }
  telemetry?.setTraceContext(definition.traceContext);
  post({ type: 'loaded' });
} catch (error) {
  post({ type: 'load-failed', error: serializeError(error) });
}
// After 'loaded', not before: a restart waiting for this standby (a crash right after another)
// need not wait for the warm-up too; init interleaves with it at its awaits.
if (data.warmCallPath && isActorDefinition(definition)) void warmCallPath().catch(() => undefined);

control.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'ping':
      post({ type: 'pong', seq: message.seq });
      return;
    case 'init':
      void init(message.id, message.incarnation, message.config, message.args, message.traceparent);
      return;
    case 'accept':
      server?.accept(message.port);
      return;
    case 'peer-up':
      peerRef(message.peerId).connect(message.port);
      return;
    case 'peer-down':
      peers.get(message.peerId)?.disconnect(message.stopped, message.why);
      return;
    case 'stop':
      void end('shutdown');
      return;
    case 'inject-fault':
      // Outside any handler, like a bug in a timer callback would be.
      setImmediate(() => {
        if (message.fault === 'hang') while (true);
        if (message.fault === 'oom') {
          // Held until the worker's heap limit (resourceLimits) ends it, as a leak would.
          const held: number[][] = [];
          while (true) held.push(new Array<number>(1_000_000).fill(Math.random()));
        }
        throw new TetherError('TETHER_INJECTED_FAULT', 'injected crash');
      });
      return;
  }
});

async function init(
  id: string,
  incarnation: number,
  config: unknown,
  args: readonly unknown[],
  traceparent: string,
): Promise<void> {
  if (!isActorDefinition(definition)) return;
  const actor = definition;
  const ctx: ActorContext = {
    id,
    incarnation,
    config,
    args,
    log: makeLogger(),
    ref: <Api>(peerId: string): ActorRef<Api> => peerRef(peerId) as unknown as ActorRef<Api>,
    traceparent: () => currentTraceparent(),
    exit: (reason: SelfExit = 'normal') => void end(reason, true),
  };
  // Init runs in the trace context of whoever started this incarnation (a restart, an attempt).
  const runInit = (() => actor.init(ctx)) as AnyHandler;
  try {
    const result = await ((telemetry?.inTrace ?? inRuntimeTrace)(traceparent, runInit, []) as ReturnType<
      typeof actor.init
    >);
    if (result === 'ignore') {
      post({ type: 'ignored' });
      return;
    }
    if (typeof result !== 'object' || result === null || typeof result.handlers !== 'object') {
      throw new TetherError('TETHER_NOT_AN_ACTOR', `init of ${id} did not return { handlers } or 'ignore'`);
    }
    instance = result;
  } catch (error) {
    post({ type: 'init-failed', error: serializeError(error) });
    return;
  }
  server = new CallServer(id, instance.handlers, telemetry?.inTrace ?? inRuntimeTrace, (method, error) =>
    post({
      type: 'log',
      level: 'error',
      msg: `cast ${method} failed`,
      fields: { err: serializeError(error) },
    }),
  );
  post({ type: 'ready' });
}

/** Orderly end: run terminate, close every port, then tell the host, which ends the thread. */
async function end(exit: SelfExit, byItself = false): Promise<void> {
  if (ending) return;
  ending = true;
  const reason: ExitKind = typeof exit === 'string' ? exit : 'shutdown';
  try {
    await instance?.terminate?.(reason);
  } catch (error) {
    post({ type: 'log', level: 'error', msg: 'terminate failed', fields: { err: serializeError(error) } });
  }
  // Before 'stopped' on the same port, so the host gets the last spans before it ends the thread.
  await telemetry?.flush().catch(() => undefined);
  server?.closeAll();
  for (const ref of peers.values()) ref.disconnect(true, 'the calling actor stopped');
  if (!byItself) {
    post({ type: 'stopped' });
  } else if (typeof exit === 'string') {
    post({ type: 'exit-self', reason });
  } else {
    try {
      post({ type: 'exit-self', reason, term: exit.shutdown });
    } catch {
      // A term that cannot cross the thread still ends the actor as asked, described.
      post({ type: 'exit-self', reason, term: String(exit.shutdown) });
    }
  }
}

/**
 * A fresh thread is a fresh V8 isolate: every function runs unoptimized and
 * is compiled on first use. One call and one cast through the whole call
 * path here, while the thread is a standby, keeps that cost out of the
 * first calls after a restart.
 */
async function warmCallPath(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  const warmServer = new CallServer(
    '(warm-up)',
    { echo: (value: number) => value },
    telemetry?.inTrace ?? inRuntimeTrace,
    () => undefined,
  );
  warmServer.accept(port2);
  const warmRef = new RefCore<{ echo(value: number): number }>('(warm-up)', { callTimeoutMs: 5000 });
  warmRef.connect(port1);
  warmRef.cast('echo', 1);
  await warmRef.call('echo', 1);
  await warmRef.call('nope' as 'echo', 1).catch(() => serializeError(new Error('warm-up')));
  warmRef.disconnect(true, 'warm-up done');
  warmServer.closeAll();
}

/** The traceparent of the code running now: what its outgoing calls and casts carry. */
function currentTraceparent(): string {
  return telemetry === undefined ? (traceStore.getStore() ?? '') : telemetry.currentTraceparent();
}

function peerRef(peerId: string): RefCore<ApiShape> {
  let ref = peers.get(peerId);
  if (ref === undefined) {
    ref = new RefCore<ApiShape>(peerId, {
      callTimeoutMs: data.callTimeoutMs,
      stashLimit: data.stashLimit,
      currentTraceparent,
    });
    peers.set(peerId, ref);
    post({ type: 'want-peer', peerId });
  }
  return ref;
}

function makeLogger(): ActorLogger {
  const log =
    (level: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      // The host's log line carries the trace of the code that logged.
      if (telemetry !== undefined) fields = { ...fields, ...telemetry.logFields() };
      try {
        post({ type: 'log', level, msg, fields });
      } catch {
        // Fields that cannot be cloned still leave a trace of the message.
        post({ type: 'log', level, msg, fields: { fields: String(fields) } });
      }
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

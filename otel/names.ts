/**
 * Every span, event, metric and attribute name tether exports, in one
 * place, so the actors, the main thread, the tests and
 * docs/observability.md agree. Names follow the OpenTelemetry convention of
 * dotted lower-case namespaces under `tether.`.
 */

/** The instrumentation scope of every tracer and meter. */
export const SCOPE = 'tether';

export const SPANS = {
  /** Root of a connection attempt (main thread): Disconnected (or start) until Synchronized, or the next Disconnected. */
  attempt: 'tether.connection.attempt',
  /** connection actor: one discovery pass. */
  discovery: 'tether.connection.discovery',
  /** connection actor: opening one candidate. */
  connect: 'tether.connection.connect',
  /** synchronization actor: waiting for and checking the controller's handshake. */
  handshake: 'tether.sync.handshake',
  /** synchronization actor: the sync steps, in order (each with `tether.sync.step`). */
  syncSetClock: 'tether.sync.set_clock',
  syncLoadBlocks: 'tether.sync.load_blocks',
  syncReadTrace: 'tether.sync.read_trace',
  /** synchronization actor: asking the kernel for Synchronized. */
  syncSynchronize: 'tether.sync.synchronize',
  /** main thread: the link went Disconnected. */
  disconnect: 'tether.connection.disconnect',
  /** commander actor: one request to the controller, request to response. */
  command: 'tether.command',
  /** connection actor: one request frame written to the link. */
  write: 'tether.connection.write',
  /** main thread: a supervisor restarted a child (and its group). */
  restart: 'tether.supervisor.restart',
  /** main thread: a supervisor's restart intensity ran out. */
  giveUp: 'tether.supervisor.give_up',
  /** main thread: a supervisor waits before restarting. */
  backoff: 'tether.supervisor.backoff',
  /** main thread: a tracked task, from its submission to its end (a REJECTED one is a span of no length). */
  task: 'tether.task',
} as const;

export const EVENTS = {
  /** On the attempt root: one phase transition. */
  phase: 'tether.phase_change',
  /** On a handshake span: one NONE ping sent while waiting. */
  handshakePing: 'tether.handshake.ping',
  /** On a task span: it moved to another status (tether.task.status). */
  taskStatus: 'tether.task.status_change',
  /** On a task span: progress (tether.task.progress.percent, tether.task.progress.message). */
  taskProgress: 'tether.task.progress',
} as const;

export const ATTR = {
  actorId: 'tether.actor.id',
  generation: 'tether.generation',
  phaseFrom: 'tether.phase.from',
  phaseTo: 'tether.phase.to',
  phase: 'tether.phase',
  phaseReason: 'tether.phase.reason',
  previousPhaseMs: 'tether.phase.previous_duration_ms',
  attemptNumber: 'tether.attempt.number',
  attemptOutcome: 'tether.attempt.outcome',
  discoveryMode: 'tether.discovery.mode',
  discoveryCandidates: 'tether.discovery.candidates',
  address: 'tether.connection.address',
  transport: 'tether.connection.transport',
  handshakeAttempts: 'tether.handshake.attempts',
  firmwareVersion: 'tether.controller.firmware_version',
  protocolVersion: 'tether.controller.protocol_version',
  deviceId: 'tether.controller.device_id',
  resetReason: 'tether.controller.reset_reason',
  firmwareError: 'tether.controller.firmware_error',
  identityError: 'tether.controller.identity_error',
  syncStep: 'tether.sync.step',
  disconnectReason: 'tether.disconnect.reason',
  disconnectCategory: 'tether.disconnect.category',
  failedCommands: 'tether.disconnect.failed_commands',
  opcode: 'tether.command.opcode',
  msgId: 'tether.command.msg_id',
  result: 'tether.command.result',
  latencyMs: 'tether.command.latency_ms',
  frameBytes: 'tether.frame.bytes',
  frameError: 'tether.frame.error',
  supervisor: 'tether.supervisor.id',
  childId: 'tether.child.id',
  exitReason: 'tether.exit.reason',
  exitDetail: 'tether.exit.detail',
  strategy: 'tether.supervisor.strategy',
  restartedChildren: 'tether.supervisor.restarted_children',
  intensity: 'tether.supervisor.intensity',
  periodMs: 'tether.supervisor.period_ms',
  delayMs: 'tether.supervisor.delay_ms',
  backoffAttempt: 'tether.supervisor.backoff_attempt',
  taskId: 'tether.task.id',
  taskKind: 'tether.task.kind',
  taskStatus: 'tether.task.status',
  /** The code of why a task failed, was aborted or rejected. */
  taskProblem: 'tether.task.problem',
  taskPercent: 'tether.task.progress.percent',
  taskMessage: 'tether.task.progress.message',
  /** Prefix of the result summary: each top-level number, string or boolean of the result. */
  taskResult: 'tether.task.result',
} as const;

export const METRICS = {
  /** Gauge: 1 for the current phase, 0 for the others (attribute tether.phase). */
  phase: 'tether.connection.phase',
  /** Histogram (s): from the start of an attempt to Synchronized. */
  timeToSynchronized: 'tether.connection.time_to_synchronized',
  /** Counter: restarts by tether.child.id and tether.exit.reason. */
  restarts: 'tether.supervisor.restarts',
  /** Counter: disconnects by tether.disconnect.category. */
  disconnects: 'tether.connection.disconnects',
  /** Histogram (ms): command latency by tether.command.opcode and tether.command.result. */
  commandDuration: 'tether.command.duration',
  /** Counter: frames received from the controller (responses). */
  framesIn: 'tether.connection.frames.received',
  /** Counter: request frames written to the controller. */
  framesOut: 'tether.connection.frames.sent',
  /** Counter: bad input by tether.frame.error (framing, crc, bad_json, bad_fields, raw_bracket, bad_events). */
  badFrames: 'tether.connection.frames.bad',
  /** Histogram (ms): heartbeat round trip by tether.actor.id. */
  heartbeat: 'tether.actor.heartbeat.rtt',
  /** Counter: tasks that reached a status, by tether.task.kind and tether.task.status. */
  tasks: 'tether.tasks',
} as const;

/**
 * Disconnect reasons are free text (they carry addresses and codes); metrics
 * get this small fixed set instead, so a reason cannot blow up cardinality.
 */
export function disconnectCategory(reason: string): string {
  const rules: Array<[RegExp, string]> = [
    [/^controller silent/, 'controller_silent'],
    [/NONE check failed/, 'command_timeout'],
    [/^controller reset/, 'controller_reset'],
    [/no handshake|handshake timeout/i, 'handshake_timeout'],
    [/listening mode/, 'listening_mode'],
    [/sync step|synchronization/, 'sync_error'],
    [/closed by the controller/, 'closed_by_controller'],
    [/^I\/O error|write failed/, 'io_error'],
    [/ stopped: |actor (restarted|stopped)/, 'actor_exit'],
    [/service stopping/, 'service_stopping'],
    [/closed by the service|operator|reconnect/, 'requested'],
  ];
  for (const [pattern, category] of rules) if (pattern.test(reason)) return category;
  return 'other';
}

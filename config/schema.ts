/**
 * The configuration: every default in one constant (`CONFIG_DEFAULTS`), then
 * the schema that fills it in, section by section in the order of the
 * example file. Objects are strict (an unknown key is an error, not a silent
 * typo); every field is optional in the file and has a default, so
 * `TetherConfig`, the parsed type, is fully defaulted.
 *
 * Each leaf takes its default from `CONFIG_DEFAULTS`, which keeps the
 * constant and the schema from drifting apart: `.default()` type-checks the
 * value, and a test checks that parsing `{}` gives back the constant.
 * Sections use `.prefault({})`, so an absent section is parsed as an empty
 * one and its leaves fill in (zod 4's `.default()` would skip parsing).
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { HEARTBEAT_FLOORS } from '../runtime/host.js';
import { isAllowedHostEntry } from './address.js';

// ----------------------------------------------------------------- defaults

const CHILD_DEFAULTS = {
  restart: 'permanent',
  shutdown: 5000,
  heartbeat: { intervalMs: 1000, timeoutMs: 3000 },
  memoryLimitMb: 64,
  // The runtime's own default is 5 s; a service worker loads more (the OpenTelemetry SDK with
  // telemetry on), and took over 5 s to start on a loaded 2-core machine. A small board is slower.
  startTimeoutMs: 15_000,
} as const;

/** Used by a supervisor's `backoff` when the file names it without every field. */
const BACKOFF_DEFAULTS = { minMs: 500, maxMs: 30_000, factor: 2, jitter: 0.1, resetAfterMs: 60_000 } as const;

/** The samplers OTEL_TRACES_SAMPLER names (the ones this build supports). */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export const CONFIG_DEFAULTS = {
  device: { id: '' },
  discovery: {
    mode: 'all',
    intervalMs: 5000,
    usb: { ids: ['2B04:C006', '2B04:C008'], path: '', baudRate: 115_200, giveUpMs: 120_000 },
    tcp: { host: '', port: 8332 },
    mdns: { port: 5353, interface: '', answerWaitMs: 1000 },
    rediscovery: 'auto',
  },
  connection: {
    connectTimeoutMs: 5000,
    retry: { initialMs: 2000, factor: 1.5, maxMs: 30_000, resetAfterMs: 5000 },
  },
  synchronization: {
    autoconnecting: true,
    handshakeTimeoutMs: 120_000,
    handshakePingMs: 2000,
    skipVersionCheck: false,
    clockResyncMs: 900_000,
    stepTimeoutMs: 5000,
  },
  commander: { timeoutMs: 20_000 },
  watchdog: { idleMs: 5000, timeoutMs: 3000 },
  stateDir: './.tether',
  simulator: { port: 0, deviceId: '123456789012345678901234' },
  recovery: {
    handshakeTimeout: 'disconnect',
    syncError: 'disconnect',
    commandTimeout: 'disconnect',
    listeningMode: 'disconnect',
  },
  supervision: {
    root: {
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      neverGiveUp: true,
      backoff: BACKOFF_DEFAULTS,
    },
    // No backoff by default: the device subtree restarts at once, as OTP does, and the root backs off.
    device: { strategy: 'rest_for_one', intensity: 3, periodMs: 5000, neverGiveUp: false },
    // The MQTT link's own supervisor: it never gives up and backs off, so a broker that makes the
    // actor fail again and again never spends the root's intensity (which would restart the device link).
    bus: {
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      neverGiveUp: true,
      backoff: BACKOFF_DEFAULTS,
    },
    // The task pool's own supervisor, on the same terms as bus: a pool that keeps failing backs off
    // under it (its tasks refused meanwhile) and never spends the root's intensity.
    tasks: {
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      neverGiveUp: true,
      backoff: BACKOFF_DEFAULTS,
    },
    children: {
      connection: CHILD_DEFAULTS,
      commander: CHILD_DEFAULTS,
      synchronization: CHILD_DEFAULTS,
      watchdog: CHILD_DEFAULTS,
      mqtt: CHILD_DEFAULTS,
    },
  },
  log: { level: 'info', format: 'auto' },
  http: {
    host: '127.0.0.1',
    port: 8331,
    token: '',
    readyWhen: 'synchronized',
    allowedHosts: [],
    drills: false,
  },
  telemetry: { endpoint: '', serviceName: 'tether', sampler: 'parentbased_always_on', writeSpans: false },
  tasks: {
    maxQueued: 16,
    retainMs: 3_600_000,
    retainCount: 200,
    pool: { maxThreads: 1, maxQueue: 64, idleTimeoutMs: 30_000, memoryLimitMb: 512, niceIncrement: 10 },
    backup: { maxBytes: 32 * 1024 * 1024 },
    kinds: {
      backupSave: { timeoutMs: 600_000 },
      backupLoad: { timeoutMs: 1_800_000 },
      backupValidate: { timeoutMs: 120_000 },
      reboot: {
        timeoutMs: 600_000,
        resetReasons: ['USER'],
        states: {
          command: { timeoutMs: 10_000, retries: 1 },
          disconnect: { timeoutMs: 10_000, retries: 1 },
          reconnect: { timeoutMs: 60_000, retries: 2 },
          synchronize: { timeoutMs: 60_000, retries: 1 },
        },
      },
      firmwareUpdate: {
        timeoutMs: 1_800_000,
        states: {
          command: { timeoutMs: 10_000, retries: 1 },
          updater: { timeoutMs: 30_000, retries: 0 },
          disconnect: { timeoutMs: 600_000, retries: 0 },
          reconnect: { timeoutMs: 120_000, retries: 2 },
          synchronize: { timeoutMs: 120_000, retries: 1 },
        },
      },
    },
  },
  mqtt: {
    url: '',
    username: '',
    password: '',
    caFile: '',
    clientId: '',
    service: '',
    prefix: 'tether',
    keepaliveMs: 30_000,
    connectTimeoutMs: 10_000,
    reconnect: { initialMs: 1000, factor: 2, maxMs: 30_000 },
    minIntervalMs: 500,
    publishIntervalMs: 30_000,
    brewcast: false,
    maxPayloadBytes: 16_384,
  },
  lifecycle: { group: '', joinTimeoutMs: 3000 },
} as const;

// ------------------------------------------------------------ field helpers

/** A duration in milliseconds; `min` is 1 unless zero has a meaning for the field. */
function ms(fallback: number, description: string, min = 1) {
  return z.int().min(min).default(fallback).describe(`${description} (ms)`);
}

function port(fallback: number, description: string, min = 1) {
  return z.int().min(min).max(65_535).default(fallback).describe(description);
}

function flag(fallback: boolean, description: string) {
  return z.boolean().default(fallback).describe(description);
}

/** A field of the object a refinement saw, for its message. */
function field(input: unknown, key: string): unknown {
  return typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : undefined;
}

const HEX24 = /^[0-9a-fA-F]{24}$/;
const USB_ID = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/;
/** Visible ASCII: what a Bearer token can be written with in a header. */
const TOKEN = /^[\x21-\x7e]*$/;

// ----------------------------------------------------------------- sections

const device = z
  .strictObject({
    id: z
      .string()
      .refine((v) => v === '' || HEX24.test(v), { error: 'expected 24 hex digits, or "" for any controller' })
      .default(CONFIG_DEFAULTS.device.id)
      .describe('Device id of the controller to accept (24 hex digits, any case); "" accepts any controller'),
  })
  .describe('Which controller this service talks to');

const discovery = z
  .strictObject({
    mode: z
      .enum(['usb', 'tcp', 'mdns', 'sim', 'all'])
      .default(CONFIG_DEFAULTS.discovery.mode)
      .describe(
        'Where to look for the controller; "all" tries USB, then TCP (when tcp.host is set), then mDNS, never the simulator',
      ),
    intervalMs: ms(CONFIG_DEFAULTS.discovery.intervalMs, 'Wait between discovery attempts'),
    usb: z
      .strictObject({
        ids: z
          .array(z.string().regex(USB_ID, { error: 'expected VID:PID, 4 hex digits each (e.g. 2B04:C006)' }))
          .default([...CONFIG_DEFAULTS.discovery.usb.ids])
          .describe('USB devices to try, as VID:PID in hex'),
        path: z
          .string()
          .default(CONFIG_DEFAULTS.discovery.usb.path)
          .describe(
            'A serial device to use as it is (e.g. /dev/ttyACM0 or a pty), instead of looking for USB devices by id; "" to look',
          ),
        baudRate: z
          .int()
          .positive()
          .default(CONFIG_DEFAULTS.discovery.usb.baudRate)
          .describe('Serial line speed (8N1, no flow control)'),
        giveUpMs: ms(
          CONFIG_DEFAULTS.discovery.usb.giveUpMs,
          'USB discovery that finds nothing for this long exits the process (code 75) so a container restart can see new devices, when rediscovery allows',
        ),
      })
      .prefault({})
      .describe('USB serial discovery'),
    tcp: z
      .strictObject({
        host: z
          .string()
          .default(CONFIG_DEFAULTS.discovery.tcp.host)
          .describe('Host name or address of a controller on the network; "" for none'),
        port: port(CONFIG_DEFAULTS.discovery.tcp.port, 'TCP port of the controller'),
      })
      .prefault({})
      .describe('A controller at a known network address'),
    mdns: z
      .strictObject({
        port: port(
          CONFIG_DEFAULTS.discovery.mdns.port,
          'UDP port of multicast DNS (5353; another only for tests or a private network)',
        ),
        interface: z
          .string()
          .refine((v) => v === '' || isIPv4(v), { error: 'expected an IPv4 address, or "" for all' })
          .default(CONFIG_DEFAULTS.discovery.mdns.interface)
          .describe('IPv4 address of the network interface to ask on (e.g. 192.168.1.10); "" for all'),
        answerWaitMs: ms(
          CONFIG_DEFAULTS.discovery.mdns.answerWaitMs,
          'How long a discovery round waits for answers after it asks',
        ),
      })
      .prefault({})
      .describe('Controllers that advertise _brewblox._tcp on the local network (multicast DNS)'),
    rediscovery: z
      .enum(['auto', 'always', 'never'])
      .default(CONFIG_DEFAULTS.discovery.rediscovery)
      .describe(
        'Whether failing USB discovery may exit the process (code 75): "auto" only inside a container, "always", or "never"',
      ),
  })
  .describe('Finding the controller');

const connection = z
  .strictObject({
    connectTimeoutMs: ms(
      CONFIG_DEFAULTS.connection.connectTimeoutMs,
      'How long opening a transport may take',
    ),
    retry: z
      .strictObject({
        initialMs: ms(CONFIG_DEFAULTS.connection.retry.initialMs, 'First wait before reconnecting', 0),
        factor: z
          .number()
          .min(1)
          .default(CONFIG_DEFAULTS.connection.retry.factor)
          .describe('Each further wait is the previous one times this'),
        maxMs: ms(CONFIG_DEFAULTS.connection.retry.maxMs, 'Longest wait before reconnecting', 0),
        resetAfterMs: ms(
          CONFIG_DEFAULTS.connection.retry.resetAfterMs,
          'A link Synchronized this long counted as good: its drop is retried at once and waits start again from initialMs; a link that fails sooner counts as a failed attempt',
          0,
        ),
      })
      .refine((r) => r.maxMs >= r.initialMs, {
        error: (issue) => `must be at least initialMs (${String(field(issue.input, 'initialMs'))})`,
        path: ['maxMs'],
      })
      .prefault({})
      .describe('Backoff between connection attempts'),
  })
  .describe('Opening the transport to the controller');

const synchronization = z
  .strictObject({
    autoconnecting: flag(
      CONFIG_DEFAULTS.synchronization.autoconnecting,
      'Connect on start and reconnect after a disconnect; false waits for an operator',
    ),
    handshakeTimeoutMs: ms(
      CONFIG_DEFAULTS.synchronization.handshakeTimeoutMs,
      'How long a connected controller may take to send its handshake',
    ),
    handshakePingMs: ms(
      CONFIG_DEFAULTS.synchronization.handshakePingMs,
      'While waiting for the handshake, ask for it this often',
    ),
    skipVersionCheck: flag(
      CONFIG_DEFAULTS.synchronization.skipVersionCheck,
      'Accept a controller whose protocol version differs (for development only)',
    ),
    clockResyncMs: ms(
      CONFIG_DEFAULTS.synchronization.clockResyncMs,
      "Set the controller's clock again this often",
    ),
    stepTimeoutMs: ms(
      CONFIG_DEFAULTS.synchronization.stepTimeoutMs,
      'How long each synchronization command (clock, trace) may wait for its answer before the link is dropped',
    ),
  })
  .describe('Bringing a connected controller in sync');

const commander = z
  .strictObject({
    timeoutMs: ms(CONFIG_DEFAULTS.commander.timeoutMs, 'How long a command may wait for its response'),
  })
  .describe('Commands to the controller');

const watchdog = z
  .strictObject({
    idleMs: ms(CONFIG_DEFAULTS.watchdog.idleMs, 'A link silent for this long gets a check (a Noop command)'),
    timeoutMs: ms(
      CONFIG_DEFAULTS.watchdog.timeoutMs,
      'How long that check may take before the link counts as dead',
    ),
  })
  .describe('Noticing a link that went quiet');

const simulator = z
  .strictObject({
    port: port(CONFIG_DEFAULTS.simulator.port, 'TCP port of the built-in simulator; 0 picks a free port', 0),
    deviceId: z
      .string()
      .regex(HEX24, { error: 'expected 24 hex digits' })
      .default(CONFIG_DEFAULTS.simulator.deviceId)
      .describe('Device id the simulator reports'),
  })
  .describe(
    'The built-in simulator, used only when discovery.mode is "sim" (what `npm start` picks when nothing is configured)',
  );

function recoveryAction(fallback: 'disconnect' | 'restart', description: string) {
  return z
    .enum(['disconnect', 'restart'])
    .default(fallback)
    .describe(`${description}: "disconnect" closes the link, "restart" also restarts the actor that saw it`);
}

const recovery = z
  .strictObject({
    handshakeTimeout: recoveryAction(CONFIG_DEFAULTS.recovery.handshakeTimeout, 'No handshake in time'),
    syncError: recoveryAction(CONFIG_DEFAULTS.recovery.syncError, 'A synchronization step failed'),
    commandTimeout: recoveryAction(
      CONFIG_DEFAULTS.recovery.commandTimeout,
      'A command timed out and the Noop check failed too',
    ),
    listeningMode: recoveryAction(
      CONFIG_DEFAULTS.recovery.listeningMode,
      'The controller is in listening (setup) mode',
    ),
  })
  .describe('Which link failures only disconnect and which also restart an actor');

// ---------------------------------------------------------------- supervision

const backoff = z
  .strictObject({
    minMs: ms(BACKOFF_DEFAULTS.minMs, 'First wait before a restart', 0),
    maxMs: ms(BACKOFF_DEFAULTS.maxMs, 'Longest wait before a restart', 0),
    factor: z
      .number()
      .min(1)
      .default(BACKOFF_DEFAULTS.factor)
      .describe('Each further wait is the previous one times this'),
    jitter: z
      .number()
      .min(0)
      .max(1)
      .default(BACKOFF_DEFAULTS.jitter)
      .describe('Spread each wait by up to this fraction either way (0..1)'),
    resetAfterMs: ms(
      BACKOFF_DEFAULTS.resetAfterMs,
      'After this long without a restart, waits start again from minMs',
      0,
    ),
  })
  .refine((b) => b.maxMs >= b.minMs, {
    error: (issue) => `must be at least minMs (${String(field(issue.input, 'minMs'))})`,
    path: ['maxMs'],
  })
  .describe('Wait before restarting: exponential, capped, with jitter; set minMs and maxMs to 0 for none');

type SupervisorDefaults = (typeof CONFIG_DEFAULTS.supervision)['root' | 'device' | 'bus' | 'tasks'];

function supervisorFields(defaults: SupervisorDefaults) {
  return {
    strategy: z
      .enum(['one_for_one', 'one_for_all', 'rest_for_one'])
      .default(defaults.strategy)
      .describe('Which children restart when one fails (OTP strategies)'),
    intensity: z
      .int()
      .min(0)
      .default(defaults.intensity)
      .describe('Restarts allowed within periodMs; one more and the supervisor gives up (or backs off)'),
    periodMs: ms(defaults.periodMs, 'The sliding window for intensity'),
    neverGiveUp: flag(
      defaults.neverGiveUp,
      'When intensity is spent, stop the children, back off and start them again instead of failing',
    ),
  };
}

const SHUTDOWN_ERROR = 'expected a non-negative integer (ms), "brutal_kill" or "infinity"';

const childPolicy = z
  .strictObject({
    restart: z
      .enum(['permanent', 'transient', 'temporary'])
      .default(CHILD_DEFAULTS.restart)
      .describe('permanent: always restarted; transient: only after a failure; temporary: never'),
    shutdown: z
      .union([z.int().min(0), z.enum(['brutal_kill', 'infinity'])], { error: SHUTDOWN_ERROR })
      .default(CHILD_DEFAULTS.shutdown)
      .describe(
        'How long a graceful stop may take before the worker is killed (ms), or "brutal_kill", or "infinity"',
      ),
    heartbeat: z
      .union(
        [
          z.strictObject({
            // The runtime's floors: tighter settings would take healthy actors on a busy machine for hung.
            intervalMs: ms(
              CHILD_DEFAULTS.heartbeat.intervalMs,
              `Ping the actor this often (at least ${HEARTBEAT_FLOORS.intervalMs})`,
              HEARTBEAT_FLOORS.intervalMs,
            ),
            timeoutMs: ms(
              CHILD_DEFAULTS.heartbeat.timeoutMs,
              `An actor that does not answer a ping this long is hung (at least ${HEARTBEAT_FLOORS.timeoutMs})`,
              HEARTBEAT_FLOORS.timeoutMs,
            ),
          }),
          z.literal(false),
        ],
        { error: 'expected { intervalMs, timeoutMs } or false' },
      )
      .prefault({})
      .describe('Hang detection: a hung actor is terminated and restarted as a crash; false turns it off'),
    memoryLimitMb: z
      .int()
      .positive()
      .default(CHILD_DEFAULTS.memoryLimitMb)
      .describe(
        "Heap limit of the actor's worker (resourceLimits.maxOldGenerationSizeMb); running out in pieces ends it alone (oom); one object that takes the heap more than 16 MB past it (what the actor already holds counts) aborts the process (docs/decisions/0012), so leave room for the largest",
      ),
    youngGenerationMb: z
      .int()
      .positive()
      .optional()
      .describe(
        "Cap of the worker's young generation (resourceLimits.maxYoungGenerationSizeMb); default a quarter of memoryLimitMb, at most 16",
      ),
    startTimeoutMs: ms(CHILD_DEFAULTS.startTimeoutMs, 'How long loading and init may take'),
  })
  .prefault({});

const supervision = z
  .strictObject({
    // The root always has a backoff (it never gives up); the device supervisor has one only if the file asks.
    root: z
      .strictObject({ ...supervisorFields(CONFIG_DEFAULTS.supervision.root), backoff: backoff.prefault({}) })
      .prefault({})
      .describe('The root supervisor (over device and watchdog)'),
    device: z
      .strictObject({ ...supervisorFields(CONFIG_DEFAULTS.supervision.device), backoff: backoff.optional() })
      .prefault({})
      .describe('The device supervisor (over connection, commander, synchronization)'),
    bus: z
      .strictObject({
        ...supervisorFields(CONFIG_DEFAULTS.supervision.bus),
        backoff: backoff.prefault({}),
      })
      .prefault({})
      .describe("The MQTT link's supervisor (over mqtt; only when mqtt.url is set)"),
    tasks: z
      .strictObject({
        ...supervisorFields(CONFIG_DEFAULTS.supervision.tasks),
        backoff: backoff.prefault({}),
      })
      .prefault({})
      .describe("The task pool's supervisor (over task-pool, the tasks' CPU work)"),
    children: z
      .strictObject({
        connection: childPolicy.describe('The connection actor (owns the transport)'),
        commander: childPolicy.describe('The commander actor (requests and responses)'),
        synchronization: childPolicy.describe('The synchronization actor (handshake, clock, block store)'),
        watchdog: childPolicy.describe('The watchdog actor (link checks)'),
        mqtt: childPolicy.describe('The MQTT actor (the broker link; only when mqtt.url is set)'),
      })
      .prefault({})
      .describe('Restart policy of each actor'),
  })
  .describe('The supervisor tree: restart strategies, intensities, backoff, and per-actor policies');

const log = z
  .strictObject({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default(CONFIG_DEFAULTS.log.level)
      .describe('Lowest level written'),
    format: z
      .enum(['auto', 'json', 'pretty'])
      .default(CONFIG_DEFAULTS.log.format)
      .describe(
        'auto: readable lines when stdout is a terminal, JSON lines otherwise (journald, Docker); json or pretty to choose',
      ),
  })
  .describe('Logging');

const http = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .default(CONFIG_DEFAULTS.http.host)
      .describe('Address the HTTP API listens on; keep it on loopback unless a token is set'),
    port: port(CONFIG_DEFAULTS.http.port, 'Port of the HTTP API; 0 picks a free port', 0),
    token: z
      .string()
      // A client sends it in a header as `Bearer <token>`: a space or a character outside
      // printable ASCII could never be presented, so the API would refuse everyone.
      .regex(TOKEN, { error: 'expected printable ASCII characters only, no spaces, or "" for none' })
      .default(CONFIG_DEFAULTS.http.token)
      .describe('Bearer token required by the operator actions; "" for none'),
    readyWhen: z
      .enum(['synchronized', 'acknowledged', 'connected'])
      .default(CONFIG_DEFAULTS.http.readyWhen)
      .describe(
        'When /readyz answers 200: synchronized; acknowledged (a compatible controller of the right id answered); connected (a link is open)',
      ),
    allowedHosts: z
      .array(
        z.string().refine(isAllowedHostEntry, {
          error: 'expected a host name (".example.com" for it and its subdomains) or an IP address',
        }),
      )
      .default([...CONFIG_DEFAULTS.http.allowedHosts])
      .describe(
        'Host names a request may address the API by, besides loopback names and addresses and http.host (requests naming another host get 421: DNS rebinding)',
      ),
    drills: flag(
      CONFIG_DEFAULTS.http.drills,
      'Failure-drill routes (/api/drills/...: make an actor crash, hang or run out of memory; resource counts), for the soak; never in production',
    ),
  })
  .describe('The HTTP API (health, status, tree, commands, operator actions)');

const ENDPOINT_ERROR = 'expected an http(s) URL, or "" for off';

const telemetry = z
  .strictObject({
    endpoint: z
      .union([z.literal(''), z.url({ protocol: /^https?$/, error: ENDPOINT_ERROR })], {
        error: ENDPOINT_ERROR,
      })
      .default(CONFIG_DEFAULTS.telemetry.endpoint)
      .describe('OTLP/HTTP base URL of the collector; "" turns export off (OTEL_* variables still apply)'),
    serviceName: z
      .string()
      .min(1)
      .default(CONFIG_DEFAULTS.telemetry.serviceName)
      .describe('service.name on every span and metric'),
    sampler: z
      .enum(TRACE_SAMPLERS)
      .default(CONFIG_DEFAULTS.telemetry.sampler)
      .describe('Trace sampler, as OTEL_TRACES_SAMPLER names it'),
    writeSpans: flag(
      CONFIG_DEFAULTS.telemetry.writeSpans,
      "A span in the connection for every frame it writes, a child of its command's span (twice the spans per command)",
    ),
  })
  .describe('OpenTelemetry traces and metrics');

// -------------------------------------------------------------------- tasks

type StateDefaults = { timeoutMs: number; retries: number };

/** One waiting state of a task: its timeout, and how many timeouts it survives. */
function waitState(defaults: StateDefaults, description: string) {
  return z
    .strictObject({
      timeoutMs: ms(defaults.timeoutMs, `How long one attempt of this state may take`),
      retries: z
        .int()
        .min(0)
        .max(100)
        .default(defaults.retries)
        .describe('Timeouts this state survives (each retried); one more and the task is FAILED naming it'),
    })
    .prefault({})
    .describe(description);
}

function taskLimit(fallback: number, description: string) {
  return ms(fallback, `${description}: a task of this kind running longer is aborted and FAILED`);
}

const RESET_REASON_NAMES = [
  'NONE',
  'UNKNOWN',
  'PIN_RESET',
  'POWER_MANAGEMENT',
  'POWER_DOWN',
  'POWER_BROWNOUT',
  'WATCHDOG',
  'UPDATE',
  'UPDATE_ERROR',
  'UPDATE_TIMEOUT',
  'FACTORY_RESET',
  'SAFE_MODE',
  'DFU_MODE',
  'PANIC',
  'USER',
] as const;

const { kinds: KIND_DEFAULTS } = CONFIG_DEFAULTS.tasks;
const REBOOT_STATES = KIND_DEFAULTS.reboot.states;
const UPDATE_STATES = KIND_DEFAULTS.firmwareUpdate.states;

const tasks = z
  .strictObject({
    maxQueued: z
      .int()
      .min(1)
      .max(10_000)
      .default(CONFIG_DEFAULTS.tasks.maxQueued)
      .describe('Tasks waiting to run, all kinds together; one more is REJECTED'),
    retainMs: ms(CONFIG_DEFAULTS.tasks.retainMs, 'Finished tasks are kept (to be looked up) this long'),
    retainCount: z
      .int()
      .min(1)
      .max(100_000)
      .default(CONFIG_DEFAULTS.tasks.retainCount)
      .describe('... and at most this many'),
    pool: z
      .strictObject({
        maxThreads: z
          .int()
          .min(1)
          .max(64)
          .default(CONFIG_DEFAULTS.tasks.pool.maxThreads)
          .describe('Worker threads for CPU work (validating, hashing, serializing backups)'),
        maxQueue: z
          .int()
          .min(0)
          .max(100_000)
          .default(CONFIG_DEFAULTS.tasks.pool.maxQueue)
          .describe(
            'Pool jobs that may wait for a free thread (tracked tasks and the HTTP API’s backup file moves); one more is refused',
          ),
        idleTimeoutMs: ms(
          CONFIG_DEFAULTS.tasks.pool.idleTimeoutMs,
          'A pool thread with nothing to do is stopped after this long',
        ),
        memoryLimitMb: z
          .int()
          .positive()
          .default(CONFIG_DEFAULTS.tasks.pool.memoryLimitMb)
          .describe('Heap limit of each pool thread; running out fails its task only'),
        niceIncrement: z
          .int()
          .min(0)
          .max(19)
          .default(CONFIG_DEFAULTS.tasks.pool.niceIncrement)
          .describe(
            'Lower the pool threads’ scheduling priority by this much (Linux nice), so CPU work yields to the main thread on a busy machine; 0 for none',
          ),
      })
      .prefault({})
      .describe('The task pool: a pool child of the supervision tree (piscina)'),
    backup: z
      .strictObject({
        maxBytes: z
          .int()
          .min(1024)
          .default(CONFIG_DEFAULTS.tasks.backup.maxBytes)
          .describe('The largest backup file loaded or uploaded (bytes)'),
      })
      .prefault({})
      .describe('Backups, kept in <stateDir>/backups'),
    kinds: z
      .strictObject({
        backupSave: z
          .strictObject({ timeoutMs: taskLimit(KIND_DEFAULTS.backupSave.timeoutMs, 'Saving a backup') })
          .prefault({}),
        backupLoad: z
          .strictObject({ timeoutMs: taskLimit(KIND_DEFAULTS.backupLoad.timeoutMs, 'Loading a backup') })
          .prefault({}),
        backupValidate: z
          .strictObject({
            timeoutMs: taskLimit(KIND_DEFAULTS.backupValidate.timeoutMs, 'Validating a backup'),
          })
          .prefault({}),
        reboot: z
          .strictObject({
            timeoutMs: taskLimit(KIND_DEFAULTS.reboot.timeoutMs, 'A reboot'),
            resetReasons: z
              .array(z.enum(RESET_REASON_NAMES))
              .min(1)
              .default([...KIND_DEFAULTS.reboot.resetReasons])
              .describe(
                'Reset reasons the controller may come back with after REBOOT (any other fails the task)',
              ),
            states: z
              .strictObject({
                command: waitState(REBOOT_STATES.command, 'Sending REBOOT (retried when it gets no answer)'),
                disconnect: waitState(REBOOT_STATES.disconnect, 'Waiting for the link to drop'),
                reconnect: waitState(
                  REBOOT_STATES.reconnect,
                  'Waiting for the controller to answer on a new link (its handshake)',
                ),
                synchronize: waitState(REBOOT_STATES.synchronize, 'Waiting for Synchronized'),
              })
              .prefault({}),
          })
          .prefault({})
          .describe('Rebooting the controller'),
        firmwareUpdate: z
          .strictObject({
            timeoutMs: taskLimit(KIND_DEFAULTS.firmwareUpdate.timeoutMs, 'A firmware update'),
            states: z
              .strictObject({
                command: waitState(UPDATE_STATES.command, 'Sending FIRMWARE_UPDATE'),
                updater: waitState(UPDATE_STATES.updater, 'Waiting for the FIRMWARE_UPDATER event'),
                disconnect: waitState(
                  UPDATE_STATES.disconnect,
                  'Waiting for the link to drop (the update itself runs meanwhile)',
                ),
                reconnect: waitState(
                  UPDATE_STATES.reconnect,
                  'Waiting for the controller to answer on a new link',
                ),
                synchronize: waitState(
                  UPDATE_STATES.synchronize,
                  'Waiting for Synchronized with the new firmware',
                ),
              })
              .prefault({}),
          })
          .prefault({})
          .describe('Updating the controller’s firmware'),
      })
      .prefault({})
      .describe('Per kind: time limits, and the waiting states of reboot and firmware update'),
  })
  .describe('Tracked tasks: backup, restore, reboot, firmware update');
// ------------------------------------------------------------------- mqtt

const MQTT_URL_ERROR = 'expected an mqtt://, mqtts://, ws:// or wss:// URL, or "" for off';
/** A topic level: no "/", no wildcard, no NUL (the topics are built from it). */
// eslint-disable-next-line no-control-regex -- NUL is what MQTT forbids in a topic
const TOPIC_LEVEL = /^[^/+#\u0000]{1,64}$/;
/** A topic prefix: levels as above, separated by single "/". */
// eslint-disable-next-line no-control-regex -- NUL is what MQTT forbids in a topic
const TOPIC_PREFIX = /^[^/+#\u0000]{1,64}(\/[^/+#\u0000]{1,64}){0,7}$/;

function topicLevel(fallback: string, description: string) {
  return z
    .string()
    .refine((v) => v === '' || TOPIC_LEVEL.test(v), {
      error: 'expected 1 to 64 characters without "/", "+", "#" or NUL, or "" for the default',
    })
    .default(fallback)
    .describe(description);
}

const mqtt = z
  .strictObject({
    url: z
      .union([z.literal(''), z.url({ protocol: /^(mqtts?|wss?)$/, error: MQTT_URL_ERROR })], {
        error: MQTT_URL_ERROR,
      })
      .default(CONFIG_DEFAULTS.mqtt.url)
      .describe('The broker (mqtt://host:1883, mqtts://host:8883, ws://host:9001/mqtt); "" leaves MQTT off'),
    username: z
      .string()
      .default(CONFIG_DEFAULTS.mqtt.username)
      .describe('User name for the broker; "" for none'),
    password: z
      .string()
      .default(CONFIG_DEFAULTS.mqtt.password)
      .describe('Password for the broker; "" for none (TETHER_MQTT__PASSWORD keeps it out of the file)'),
    caFile: z
      .string()
      .default(CONFIG_DEFAULTS.mqtt.caFile)
      .describe(
        'PEM file of the CA that signed the broker\'s certificate (mqtts, wss); "" trusts the system\'s',
      ),
    clientId: z
      .string()
      .max(128)
      .default(CONFIG_DEFAULTS.mqtt.clientId)
      .describe('MQTT client id; "" for tether-<service>. Two clients with one id knock each other off'),
    service: topicLevel(
      CONFIG_DEFAULTS.mqtt.service,
      'This service\'s name in the topics; "" for telemetry.serviceName',
    ),
    prefix: z
      .string()
      .regex(TOPIC_PREFIX, {
        error: 'expected topic levels without wildcards, e.g. "tether" or "site/tether"',
      })
      .default(CONFIG_DEFAULTS.mqtt.prefix)
      .describe('First topic levels of everything published and subscribed'),
    keepaliveMs: z
      .int()
      .min(1000)
      .max(65_535_000)
      .default(CONFIG_DEFAULTS.mqtt.keepaliveMs)
      .describe(
        'MQTT keepalive (ms, whole seconds on the wire); the broker sends the last will about 1.5 times this after a crash',
      ),
    connectTimeoutMs: ms(CONFIG_DEFAULTS.mqtt.connectTimeoutMs, 'How long connecting to the broker may take'),
    reconnect: z
      .strictObject({
        initialMs: ms(
          CONFIG_DEFAULTS.mqtt.reconnect.initialMs,
          'First wait before reconnecting to the broker',
        ),
        factor: z
          .number()
          .min(1)
          .default(CONFIG_DEFAULTS.mqtt.reconnect.factor)
          .describe('Each further wait is the previous one times this'),
        maxMs: ms(CONFIG_DEFAULTS.mqtt.reconnect.maxMs, 'Longest wait before reconnecting to the broker'),
      })
      .refine((r) => r.maxMs >= r.initialMs, {
        error: (issue) => `must be at least initialMs (${String(field(issue.input, 'initialMs'))})`,
        path: ['maxMs'],
      })
      .prefault({})
      .describe(
        'Backoff between broker connection attempts (with jitter; starts again once a link held for maxMs)',
      ),
    minIntervalMs: ms(
      CONFIG_DEFAULTS.mqtt.minIntervalMs,
      'Changes of state are published at most this often (coalesced: the latest wins)',
      0,
    ),
    publishIntervalMs: ms(
      CONFIG_DEFAULTS.mqtt.publishIntervalMs,
      'The state is published again this often, changed or not',
      1000,
    ),
    brewcast: flag(
      CONFIG_DEFAULTS.mqtt.brewcast,
      'Also publish the state on brewcast/state/<service>, as the reference ecosystem reads it',
    ),
    maxPayloadBytes: z
      .int()
      .min(256)
      .max(262_144)
      .default(CONFIG_DEFAULTS.mqtt.maxPayloadBytes)
      .describe('Largest request or group message taken from the broker (bytes); larger ones are refused'),
  })
  .describe(
    'The MQTT link: state, presence and events published, operator actions taken (off without a URL)',
  );

const lifecycle = z
  .strictObject({
    group: topicLevel(
      CONFIG_DEFAULTS.lifecycle.group,
      'Services with the same group keep their life cycle in step through <mqtt.prefix>/<group>/lifecycle; "" for none',
    ),
    joinTimeoutMs: ms(
      CONFIG_DEFAULTS.lifecycle.joinTimeoutMs,
      "At start-up, how long a group member waits for the group's latest transition before it starts by itself",
      0,
    ),
  })
  .describe('The service life cycle (created, initialized, started, paused, stopped, failed)');

// -------------------------------------------------------------------- root

export const ConfigSchema = z
  .strictObject({
    device: device.prefault({}),
    discovery: discovery.prefault({}),
    connection: connection.prefault({}),
    synchronization: synchronization.prefault({}),
    commander: commander.prefault({}),
    watchdog: watchdog.prefault({}),
    stateDir: z
      .string()
      .min(1)
      .default(CONFIG_DEFAULTS.stateDir)
      .describe('Where the service keeps its state (relative paths are from the working directory)'),
    simulator: simulator.prefault({}),
    recovery: recovery.prefault({}),
    supervision: supervision.prefault({}),
    log: log.prefault({}),
    http: http.prefault({}),
    telemetry: telemetry.prefault({}),
    tasks: tasks.prefault({}),
    mqtt: mqtt.prefault({}),
    lifecycle: lifecycle.prefault({}),
  })
  .describe('tether configuration');

/** The configuration after parsing: every field present. */
export type TetherConfig = z.output<typeof ConfigSchema>;

/** What a file may hold: every field optional. */
export type TetherConfigInput = z.input<typeof ConfigSchema>;

export type ChildName = keyof TetherConfig['supervision']['children'];
export type ChildPolicy = TetherConfig['supervision']['children'][ChildName];
export type SupervisorName = 'root' | 'device' | 'bus' | 'tasks';
export type SupervisorPolicy = TetherConfig['supervision'][SupervisorName];

/** Overrides (command-line flags): any subset, at any depth; arrays are replaced whole. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

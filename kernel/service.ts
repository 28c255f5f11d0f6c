/**
 * The device service, assembled: the actor system, the kernel served to the
 * actors, the supervision tree, and (in `sim` discovery) the built-in
 * simulator the caller hands in. The CLI's `tether run` and the end-to-end
 * tests start it here.
 *
 * The service has a life cycle of its own (lifecycle.ts): created, then
 * initialized once the tree is up (not connecting), then started
 * (autoconnecting) unless synchronization.autoconnecting is false; paused
 * closes the link, stopped stops the device actors and keeps the process
 * (and its HTTP API and MQTT link) so its state stays visible. With
 * mqtt.url, the bus bridge (bus.ts) carries state, events, operator requests
 * and the group's life cycle to and from the MQTT actor.
 *
 * The kernel also reacts to the tree: a new incarnation of an actor is told
 * the current state at once (it may have missed changes while down), and
 * when an actor of the device subtree exits, the link it served is
 * disconnected so the whole connect-handshake-sync sequence runs again on a
 * clean slate.
 */
import type { ConnectionApi, PhaseListener } from '../contracts/actors.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import { detectContainer, shouldExitForRediscovery } from '../actors/connection/discovery/rediscovery.js';
import type { TetherConfig } from '../config/index.js';
import { ActorSystem, TetherError, createLogger, describeExit } from '../runtime/index.js';
import type { Logger } from '../runtime/index.js';
import { Supervisor } from '../supervisors/index.js';
import type { SupervisionEvent } from '../supervisors/index.js';
import { Kernel, SERVICE_ACTORS } from './kernel.js';
import type { PhaseChange } from '../contracts/phase.js';
import { serviceTree } from './tree.js';
import type { Phase } from '../contracts/phase.js';
import { RediscoveryGate, createNotifier, startWatchdogPings, watchdogIntervalMs } from '../system/index.js';
import type { WatchdogPings } from '../system/index.js';
import type { Telemetry } from '../otel/telemetry.js';
import type { TaskPool } from '../tasks/index.js';
import { startTasks } from './tasks.js';
import type { ServiceTasks } from './tasks.js';
import { BusBridge } from './bus.js';
import { Lifecycle } from './lifecycle.js';
import { performAction } from './operator.js';

/** sysexits EX_TEMPFAIL: USB rediscovery needs a fresh process (a container restart). */
export const EXIT_REDISCOVERY = 75;

/** The longest an orderly stop may take before what is left is killed (below Docker's 10 s). */
export const SHUTDOWN_BOUND_MS = 8000;

export interface ServiceOptions {
  logger?: Logger;
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Whether this process runs in a container (default: detected). */
  inContainer?: boolean;
  /** Started telemetry (otel/telemetry.ts startTelemetry); the caller shuts it down after the service. */
  telemetry?: Telemetry;
  /**
   * Starts the built-in simulated controller for discovery mode `sim`. The
   * simulator is a development tool, so production assembly does not import
   * it: the CLI (and tests) hand it in. Without it, mode `sim` is refused.
   */
  startSimulator?: (settings: { port: number; host: string; deviceId: string }) => Promise<BuiltInController>;
  /** The task pool (default: piscina over the service's jobs); tests hand in one with jobs of their own. */
  taskPool?: TaskPool;
}

/** A controller the service started for itself (discovery mode `sim`). */
export interface BuiltInController {
  readonly address: { port: number } | undefined;
  close(): Promise<void>;
}

/** Discovery mode `sim` was chosen but this assembly was given no simulator to start. */
export class NoSimulatorError extends TetherError {
  declare readonly code: 'TETHER_NO_SIMULATOR';
  constructor() {
    super('TETHER_NO_SIMULATOR', 'discovery mode "sim" needs a simulator, and this assembly has none');
  }
}

export interface Service {
  readonly config: TetherConfig;
  readonly kernel: Kernel;
  readonly system: ActorSystem;
  readonly root: Supervisor;
  readonly simulator: BuiltInController | undefined;
  readonly logger: Logger;
  /** Tracked tasks (backup, restore, reboot, firmware update), the blocks API and the backups directory. */
  readonly tasks: ServiceTasks;
  /** The service's life cycle (created, initialized, started, paused, stopped, failed). */
  readonly lifecycle: Lifecycle;
  /** The kernel's side of the MQTT link; undefined without mqtt.url. */
  readonly bus: BusBridge | undefined;
  /** Resolves with the exit code the process should end with, once the service has stopped. */
  readonly exited: Promise<number>;
  /** Stops the tree in reverse order, closes everything; resolves when done. */
  stop(exitCode?: number): Promise<number>;
}

const DEVICE_ACTORS = new Set<string>([ACTOR_IDS.connection, ACTOR_IDS.commander, ACTOR_IDS.synchronization]);

export async function startService(input: TetherConfig, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger({ level: input.log.level });
  let config = input;
  let simulator: BuiltInController | undefined;
  if (config.discovery.mode === 'sim') {
    if (options.startSimulator === undefined) throw new NoSimulatorError();
    simulator = await options.startSimulator({
      port: config.simulator.port,
      host: '127.0.0.1',
      deviceId: config.simulator.deviceId,
    });
    const port = simulator.address?.port ?? 0;
    config = { ...config, simulator: { ...config.simulator, port } };
    logger.info({ address: `tcp://127.0.0.1:${port}` }, 'built-in simulated controller started');
  }

  const env = options.env ?? process.env;
  const notifier = createNotifier(env, { logger });
  // Rediscovery exits back off across process runs: the window grows with each recent exit.
  const gate = new RediscoveryGate({
    stateDir: config.stateDir,
    baseMs: config.discovery.usb.giveUpMs,
    logger,
  });
  const gateState = await gate.load();
  if (gateState.recentExits > 0) {
    logger.info(
      { recentExits: gateState.recentExits, windowMs: gateState.windowMs },
      'recent USB rediscovery exits: this run waits longer before another',
    );
  }
  let pings: WatchdogPings | undefined;

  const system = new ActorSystem({ logger, ...options.telemetry?.systemOptions });
  let stopping: Promise<number> | undefined;
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (resolveExited = resolve));

  const kernel = new Kernel({
    // The life cycle turns it on (started) once the tree is up and, in a group, the group's state is known.
    autoconnecting: false,
    listeners: SERVICE_ACTORS.map((id) => system.ref<PhaseListener>(id)),
    closeLink: (generation, reason) =>
      system.ref<ConnectionApi>(ACTOR_IDS.connection).cast('closeLink', generation, reason),
    onRediscoveryExit: (reason) => {
      const inContainer = options.inContainer ?? detectContainer();
      if (!shouldExitForRediscovery(config.discovery.rediscovery, inContainer)) {
        logger.warn(
          { policy: config.discovery.rediscovery, inContainer, reason },
          'USB discovery found nothing; rediscovery policy keeps the process running',
        );
        return false;
      }
      const decision = gate.decide();
      if (!decision.exit) {
        logger.info(
          { quietMs: Math.round(decision.quietMs), windowMs: decision.windowMs },
          'USB discovery found nothing; recent rediscovery exits make this run wait longer before exiting',
        );
        return false;
      }
      logger.warn(
        { policy: config.discovery.rediscovery, inContainer, reason },
        'exiting for USB rediscovery (code 75)',
      );
      void gate.recordExit().then(() => service.stop(EXIT_REDISCOVERY));
      return true;
    },
  });
  const kernelService = system.serve(ACTOR_IDS.kernel, kernel.api());
  kernel.onPhaseChange((change: PhaseChange) => {
    logPhase(logger, change);
    notifier.status(statusText(change.to, config));
    if (change.to.name === 'Acknowledged') void gate.onConnected();
    if (change.to.name === 'Disconnected') gate.onDisconnected();
  });

  const root = new Supervisor(system, serviceTree(config));
  const tasks = await startTasks({
    config,
    kernel,
    system,
    logger,
    ...(options.taskPool === undefined ? {} : { pool: options.taskPool }),
  });
  options.telemetry?.observe({ kernel, system, events: root.events, tasks: tasks.tracker });

  const closeLink = (reason: string): void => {
    kernel.setAutoconnecting(false);
    const { phase } = kernel.state;
    if (phase.name !== 'Disconnected') kernel.disconnect(phase.generation, reason);
  };
  const lifecycle = new Lifecycle({
    // Children start one after another, each within its start timeout, and stop likewise: the bounds
    // of initialize and stop follow from the tree's own, so a slow machine is not taken for a failure.
    timeoutsMs: lifecycleBounds(config),
    implementations: {
      initialized: () => root.start(),
      started: () => kernel.setAutoconnecting(true),
      paused: () => closeLink('paused (life cycle)'),
      stopped: async () => {
        closeLink('stopped (life cycle)');
        // The device actors stop, in reverse start order; the MQTT link and the HTTP API stay.
        for (const id of ['watchdog', 'device']) {
          const child = root.whichChildren().find((c) => c.id === id);
          if (child !== undefined && child.status !== 'stopped') await root.terminateChild(id);
        }
      },
    },
  });
  lifecycle.onTransition((transition) => {
    const { source } = transition;
    logger.info(
      {
        event: 'lifecycle',
        from: transition.from,
        to: transition.to,
        via: source.via,
        ...(source.via === 'group' ? { origin: source.origin, seq: source.seq } : {}),
        ...(source.via === 'automatic' ? { cause: source.cause } : {}),
      },
      `life cycle ${transition.from} -> ${transition.to} (${source.via})`,
    );
  });
  const bus =
    config.mqtt.url === ''
      ? undefined
      : new BusBridge({
          config,
          system,
          kernel,
          lifecycle,
          events: root.events,
          logger,
          perform: (action, body) => performAction({ service, source: { via: 'mqtt' } }, action, body),
          tasks: tasks.tracker,
        });
  bus?.start();
  root.events.subscribe((event) => {
    logSupervision(logger, event);
    reactToTree(kernel, system, event);
  });
  void root.exited.then((reason) => {
    // The root never gives up by default; if configured to, the service ends with it.
    if (stopping === undefined) {
      logger.error({ reason: describeExit(reason) }, 'the supervision tree stopped');
      void service.stop(1);
    }
  });

  const service: Service = {
    config,
    kernel,
    system,
    root,
    simulator,
    logger,
    tasks,
    lifecycle,
    bus,
    exited,
    stop(exitCode = 0): Promise<number> {
      stopping ??= (async () => {
        // Each child gets its own shutdown timeout; the whole stop is bounded too,
        // below Docker's 10 s grace, so a stuck child never holds the exit.
        let boundTimer: NodeJS.Timeout | undefined;
        const bound = new Promise<void>((resolve) => {
          boundTimer = setTimeout(() => {
            logger.error({ boundMs: SHUTDOWN_BOUND_MS }, 'shutdown bound passed: killing what is left');
            root.kill();
            resolve();
          }, SHUTDOWN_BOUND_MS);
        });
        pings?.stop();
        notifier.stopping(exitCode === EXIT_REDISCOVERY ? 'Stopping for USB rediscovery' : 'Stopping');
        // Tasks first, while the link is still up: each stops at its next safe point (bounded).
        await tasks.close();
        // No new link while stopping: the connection must not reconnect as the tree winds down.
        kernel.setAutoconnecting(false);
        const { phase } = kernel.state;
        if (phase.name !== 'Disconnected') kernel.disconnect(phase.generation, 'service stopping');
        await Promise.race([root.stop(), bound]);
        clearTimeout(boundTimer);
        bus?.close();
        kernelService.close();
        await system.shutdown();
        await simulator?.close();
        await notifier.close();
        resolveExited(exitCode);
        return exitCode;
      })();
      return stopping;
    },
  };

  try {
    await lifecycle.trigger('initialized', { via: 'startup' });
  } catch (error) {
    await service.stop(1);
    // The tree's own error (what failed to start), not the life cycle's wrapper.
    throw error instanceof Error && error.cause !== undefined ? error.cause : error;
  }
  notifier.ready(statusText(kernel.state.phase, config));
  if (config.synchronization.autoconnecting) {
    const autostart = async (): Promise<void> => {
      // Only if nothing else moved it meanwhile (an operator, or the group this member caught up with).
      if (lifecycle.planned !== 'initialized' || stopping !== undefined) return;
      await lifecycle.trigger('started', { via: 'startup' });
    };
    if (bus?.grouped === true) {
      // The group's latest transition comes with the subscription: wait for it (bounded), so a member
      // that starts late follows the group instead of starting on its own first.
      void bus
        .whenJoined(config.lifecycle.joinTimeoutMs)
        .then(autostart)
        .catch((error: unknown) => logger.error({ err: error }, 'life cycle: could not start'));
    } else {
      await autostart();
    }
  }
  const intervalMs = watchdogIntervalMs(env, process.pid);
  if (intervalMs !== undefined) {
    // Pinged from this (the main) thread's event loop: a stuck loop stops them, and systemd restarts us.
    pings = startWatchdogPings({
      intervalMs,
      healthy: () => root.state === 'running',
      send: () => notifier.watchdog(),
    });
  }
  return service;
}

/** Margin on top of the children's own timeouts, for the supervisors' bookkeeping. */
const LIFECYCLE_MARGIN_MS = 10_000;
/** What "infinity" counts as when adding up shutdown timeouts. */
const UNBOUNDED_SHUTDOWN_MS = 60_000;

function lifecycleBounds(config: TetherConfig): { initialized: number; stopped: number } {
  const children = Object.values(config.supervision.children);
  const start = children.reduce((sum, child) => sum + child.startTimeoutMs, 0);
  const stop = children.reduce(
    (sum, child) => sum + (typeof child.shutdown === 'number' ? child.shutdown : UNBOUNDED_SHUTDOWN_MS),
    0,
  );
  return { initialized: start + LIFECYCLE_MARGIN_MS, stopped: stop + LIFECYCLE_MARGIN_MS };
}

/** systemd's STATUS= line: the phase, the link and the device. */
function statusText(phase: Phase, config: TetherConfig): string {
  const device =
    phase.name === 'Acknowledged' || phase.name === 'Synchronized'
      ? phase.ack.handshake.deviceId
      : config.device.id || 'any';
  const link =
    phase.name === 'Disconnected'
      ? `(${phase.reason})`
      : `${phase.connection.kind} ${phase.connection.address}`;
  return `${phase.name}; ${link}; device ${device}`;
}

function reactToTree(kernel: Kernel, system: ActorSystem, event: SupervisionEvent): void {
  if (event.type === 'child-started' && (SERVICE_ACTORS as readonly string[]).includes(event.childId)) {
    system.ref<PhaseListener>(event.childId).cast('onKernelState', kernel.state);
  }
  if (event.type === 'child-exited' && DEVICE_ACTORS.has(event.childId)) {
    const { phase } = kernel.state;
    if (phase.name !== 'Disconnected') {
      kernel.disconnect(phase.generation, `${event.childId} stopped: ${describeExit(event.reason)}`);
    }
  }
}

function logPhase(logger: Logger, change: PhaseChange): void {
  logger.info(
    {
      event: 'phase',
      from: change.from.name,
      to: change.to.name,
      generation: change.to.generation,
      reason: change.reason,
      durationMs: change.durationMs,
      ...(change.to.name === 'Connected' ? { address: change.to.connection.address } : {}),
      ...(change.to.name === 'Acknowledged'
        ? {
            deviceId: change.to.ack.handshake.deviceId,
            firmwareError: change.to.ack.firmwareError,
            identityError: change.to.ack.identityError,
          }
        : {}),
    },
    `phase ${change.from.name} -> ${change.to.name} (${change.reason})`,
  );
}

function logSupervision(logger: Logger, event: SupervisionEvent): void {
  const fields = {
    event: event.type,
    supervisor: event.supervisor,
    ...('childId' in event ? { child: event.childId } : {}),
  };
  switch (event.type) {
    case 'child-exited':
      logger.warn(
        { ...fields, reason: describeExit(event.reason) },
        `${event.childId} exited: ${describeExit(event.reason)}`,
      );
      return;
    case 'child-restarted':
      logger.info(
        { ...fields, group: event.group },
        `restarted ${event.group.join(', ')} (${event.strategy})`,
      );
      return;
    case 'give-up':
      logger.error(fields, `supervisor ${event.supervisor} gave up: restart intensity spent`);
      return;
    case 'backoff':
      logger.warn(
        { ...fields, delayMs: event.delayMs },
        `supervisor ${event.supervisor} backs off ${event.delayMs} ms`,
      );
      return;
    case 'child-start-failed':
      logger.error(
        { ...fields, err: event.error },
        `${event.childId} failed to start: ${event.error.message}`,
      );
      return;
    case 'child-started':
      logger.info(
        { ...fields, incarnation: event.incarnation },
        `${event.childId} started (#${event.incarnation})`,
      );
      return;
    case 'child-terminated':
      logger.info(
        { ...fields, reason: describeExit(event.reason) },
        `${event.childId} stopped: ${describeExit(event.reason)}`,
      );
      return;
    default:
      logger.info(fields, `${event.supervisor}: ${event.type}`);
  }
}

/**
 * `tether demo`: a small supervision tree that prints its events and breaks
 * its own actors now and then (crash, hang, normal exit), to see restarts,
 * hang detection and restart types at work. It ends by itself after
 * `--duration` (20 s by default, two rounds of every kind of mischief), or
 * sooner on SIGINT/SIGTERM (Ctrl+C); `--duration 0` runs until stopped.
 */
import { Option, type Command } from 'commander';
import { FLAKY_MODULE } from '../actors/demo/flaky.js';
import type { FlakyApi } from '../actors/demo/flaky.js';
import { ActorSystem, describeExit } from '../runtime/index.js';
import { Supervisor } from '../supervisors/index.js';
import type { SupervisionEvent } from '../supervisors/index.js';
import { LOG_FORMATS, createCliLogger } from './logging.js';
import type { LogFormat } from './logging.js';

interface DemoFlags {
  interval: string;
  duration: string;
  logFormat: LogFormat;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a small demo supervision tree that prints its events, then stop')
    .option('--interval <ms>', 'how often something breaks', '2000')
    .option('--duration <ms>', 'how long the demo runs before it stops by itself (0: until Ctrl+C)', '20000')
    .addOption(
      new Option('--log-format <format>', 'readable lines on a terminal, JSON lines otherwise')
        .choices(LOG_FORMATS)
        .default('auto'),
    )
    .action(async (flags: DemoFlags) => {
      const intervalMs = Number(flags.interval);
      const durationMs = Number(flags.duration);
      if (
        !Number.isInteger(intervalMs) ||
        intervalMs < 1 ||
        !Number.isInteger(durationMs) ||
        durationMs < 0
      ) {
        program.error(
          'tether demo: --interval must be a positive and --duration a non-negative number of ms',
        );
      }
      await runDemo(intervalMs, durationMs, flags.logFormat);
    });
}

function describeEvent(event: SupervisionEvent): string {
  switch (event.type) {
    case 'child-exited':
    case 'child-terminated':
      return `${event.type} ${event.childId}: ${describeExit(event.reason)}`;
    case 'child-restarted':
      return `child-restarted ${event.childId} (${event.strategy}: ${event.group.join(', ')})`;
    case 'child-started':
      return `child-started ${event.childId} #${event.incarnation}`;
    case 'backoff':
      return `backoff ${event.delayMs} ms${event.childId === undefined ? ' (whole tree)' : ` before ${event.childId}`}`;
    default:
      return event.type;
  }
}

async function runDemo(intervalMs: number, durationMs: number, format: LogFormat): Promise<void> {
  const logger = await createCliLogger({ level: 'info', format, name: 'tether-demo' });
  const system = new ActorSystem({ logger });
  const root = new Supervisor(system, {
    id: 'root',
    flags: {
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 10_000,
      neverGiveUp: true,
      backoff: { minMs: 500 },
    },
    children: [
      {
        id: 'pair',
        kind: 'supervisor',
        flags: { strategy: 'rest_for_one', intensity: 5, periodMs: 10_000 },
        children: [
          { id: 'first', kind: 'worker', module: FLAKY_MODULE },
          { id: 'second', kind: 'worker', module: FLAKY_MODULE },
        ],
      },
      {
        id: 'loner',
        kind: 'worker',
        module: FLAKY_MODULE,
        restart: 'transient',
        heartbeat: { timeoutMs: 1000 },
      },
    ],
  });
  root.events.subscribe((event) =>
    logger.info({ supervisor: event.supervisor, event: event.type }, describeEvent(event)),
  );
  await root.start();

  const mischief: Array<[string, keyof FlakyApi]> = [
    ['second', 'crash'],
    ['first', 'crash'],
    ['loner', 'hang'],
    ['loner', 'exitNormally'],
  ];
  const timers = new Set<NodeJS.Timeout>();
  let round = 0;
  const ticker = setInterval(() => {
    const [id, what] = mischief[round % mischief.length]!;
    round += 1;
    logger.info({ actor: id }, `demo: asking ${id} to ${what}`);
    system
      .ref<FlakyApi>(id)
      .call(what)
      .catch((error: unknown) => logger.warn({ actor: id, err: error }, 'demo call failed'));
    if (what === 'exitNormally') {
      // A transient child that exited normally stays stopped; bring it back by hand.
      const timer = setTimeout(() => {
        timers.delete(timer);
        void root.restartChild(id).catch(() => undefined);
      }, intervalMs / 2);
      timers.add(timer);
    }
  }, intervalMs);

  // Ends once, whichever comes first: the deadline or a signal.
  let deadline: NodeJS.Timeout | undefined;
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    onSignal = resolve;
    if (durationMs > 0) deadline = setTimeout(() => resolve('time is up'), durationMs);
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Once Ctrl+C is handled: whoever waits for this line may signal at once.
  logger.info(
    durationMs === 0
      ? 'demo: something breaks every few seconds; Ctrl+C stops it'
      : `demo: something breaks every few seconds; it stops by itself after ${durationMs / 1000} s (Ctrl+C stops it sooner)`,
  );
  const why = await stopped;
  clearInterval(ticker);
  clearTimeout(deadline);
  for (const timer of timers) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  logger.info(`demo: stopping (${why})`);
  await root.stop();
  await system.shutdown();
  logger.info('demo stopped');
}

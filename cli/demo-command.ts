/**
 * `tether demo`: a small supervision tree that prints its events and breaks
 * its own actors now and then (crash, hang, normal exit), to see restarts,
 * hang detection and restart types at work. Stops on SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { FLAKY_MODULE } from '../actors/demo/flaky.js';
import type { FlakyApi } from '../actors/demo/flaky.js';
import { ActorSystem, createLogger, describeExit } from '../runtime/index.js';
import { Supervisor } from '../supervisors/index.js';
import type { SupervisionEvent } from '../supervisors/index.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a small demo supervision tree that prints its events')
    .option('--interval <ms>', 'how often something breaks', '2000')
    .action(async (options: { interval: string }) => runDemo(Number(options.interval)));
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

async function runDemo(intervalMs: number): Promise<void> {
  const logger = createLogger({ name: 'tether-demo' });
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
  let round = 0;
  const timer = setInterval(() => {
    const [id, what] = mischief[round % mischief.length]!;
    round += 1;
    logger.info({ actor: id }, `demo: asking ${id} to ${what}`);
    system
      .ref<FlakyApi>(id)
      .call(what)
      .catch((error: unknown) => logger.warn({ actor: id, err: error }, 'demo call failed'));
    if (what === 'exitNormally') {
      // A transient child that exited normally stays stopped; bring it back by hand.
      setTimeout(() => void root.restartChild(id).catch(() => undefined), intervalMs / 2);
    }
  }, intervalMs);

  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await root.stop();
    await system.shutdown();
    logger.info('demo stopped');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

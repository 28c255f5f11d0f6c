/**
 * The back-to-back case of runtime.bench.ts alone, quick enough to run
 * several times, alternately against another build (how docs/performance.md
 * compares the standby before and after issue 11):
 *
 *   npm run build && node dist/bench/back-to-back.bench.js [pairs=20]
 *
 * Each round: a pause (the standby loads again), a crash, and the moment the
 * new incarnation answers a second crash; another pause, then a raw Worker
 * spawned until it answers and the same actor spawned by a runtime without
 * standby until it answers. Prints the medians.
 */
import { performance } from 'node:perf_hooks';
import { MessageChannel, Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { ActorSystem } from '../runtime/index.js';
import { Supervisor } from '../supervisors/index.js';
import { ECHO_ACTOR } from './fixtures/echo-actor.js';
import type { EchoApi } from './fixtures/echo-actor.js';
import { median } from './measure.js';

const RAW_WORKER = new URL('./fixtures/raw-worker.js', import.meta.url);
const PAIRS = Number(process.argv[2] ?? 20);
const logger = pino({ level: 'silent' });

const system = new ActorSystem({ logger, callTimeoutMs: 30_000 });
// The actor writes the instant of its crash here, so a figure starts at the throw itself.
const crashClock = new Float64Array(new SharedArrayBuffer(8));
const root = new Supervisor(system, {
  id: 'bench',
  flags: { intensity: PAIRS * 4, periodMs: 1000 },
  children: [{ id: 'echo', module: ECHO_ACTOR, config: { crashClock } }],
});
await root.start();
const echo = system.ref<EchoApi>('echo');
const fresh = new ActorSystem({ logger, warmStandby: false });
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function crashAndRecover(): Promise<number> {
  const before = await echo.call('whoami');
  crashClock[0] = 0;
  echo.cast('crashSoon');
  let now = before;
  while (now === before) now = await echo.call('whoami').catch(() => before);
  return performance.timeOrigin + performance.now() - (crashClock[0] ?? NaN);
}

async function rawWorker(): Promise<number> {
  const started = performance.now();
  const worker = new Worker(RAW_WORKER);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ port: port2 }, [port2]);
  await new Promise((resolve) => worker.once('message', resolve));
  const took = performance.now() - started;
  port1.close();
  await worker.terminate();
  return took;
}

async function freshActor(i: number): Promise<number> {
  const started = performance.now();
  const host = await fresh.spawn({
    id: `fresh-${i}`,
    module: ECHO_ACTOR,
    heartbeat: false,
    startTimeoutMs: 10_000,
  });
  await fresh.ref<EchoApi>(`fresh-${i}`).call('echo', 1);
  const took = performance.now() - started;
  await host.stop(1000);
  return took;
}

// The first standby of a module loads 1.5 s after the tree starts.
await pause(2000);
const first: number[] = [];
const second: number[] = [];
const raw: number[] = [];
const spawned: number[] = [];
for (let i = 0; i < PAIRS; i += 1) {
  await pause(400);
  first.push(await crashAndRecover());
  second.push(await crashAndRecover());
  await pause(400);
  raw.push(await rawWorker());
  spawned.push(await freshActor(i));
}
const ms = (values: number[]): string => median(values).toFixed(1);
console.log(
  `pairs ${PAIRS}: first restart ${ms(first)} ms, second restart ${ms(second)} ms, ` +
    `raw Worker ${ms(raw)} ms, fresh actor spawn ${ms(spawned)} ms ` +
    `(second: ${(median(second) / median(spawned)).toFixed(2)}x the fresh spawn, ` +
    `${(median(second) / median(raw)).toFixed(2)}x the raw Worker)`,
);
await root.stop();
await system.shutdown();
await fresh.shutdown();

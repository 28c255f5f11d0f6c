/**
 * A pool task's round trip through a supervised pool child (`system.pool(id).run`)
 * against piscina used directly, on the same task module and the same piscina
 * options, in alternating rounds (bench/measure.ts):
 *
 *   npm run bench:pool            (node dist/bench/pool.bench.js [rounds=20])
 *
 * - one at a time: the latency of a task that costs nothing;
 * - 64 in flight: tasks per second.
 * Both on one pool thread: with two, the pool's threads and the main thread
 * contend for the machine's two cores and the figures are mostly noise.
 * A third side, piscina on the same task without definePoolTask (a plain
 * function), shows what the answer envelope (errors with their code) costs.
 * Prints the figures with the load average, for docs/performance.md.
 */
import { loadavg } from 'node:os';
import { Piscina } from 'piscina';
import { pino } from 'pino';
import { ActorSystem } from '../runtime/index.js';
import type { PoolRef } from '../runtime/index.js';
import { Supervisor } from '../supervisors/index.js';
import { POOL_ECHO_MODULE } from './fixtures/pool-echo.js';
import { POOL_ECHO_PLAIN_MODULE } from './fixtures/pool-echo-plain.js';
import { interleaved, sequential, summarize, throughput } from './measure.js';

const ROUNDS = Number(process.argv[2] ?? 20);
const PER_ROUND = 400;
const IN_FLIGHT = 64;
const PER_THROUGHPUT_ROUND = 2000;

/** The options the pool child gives piscina (runtime/pool.ts), so both sides run the same pool. */
function piscina(filename: string, threads: number): Piscina {
  return new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    maxQueue: 1000,
    idleTimeout: 30_000,
    atomics: 'disabled',
    niceIncrement: 0,
  });
}

const system = new ActorSystem({ logger: pino({ level: 'silent' }) });
const root = new Supervisor(system, {
  id: 'bench',
  children: [{ id: 'one', kind: 'pool', module: POOL_ECHO_MODULE, threads: { min: 1, max: 1 } }],
});
await root.start();
const one: PoolRef<{ n: number }, number> = system.pool('one');
const direct1 = piscina(POOL_ECHO_MODULE, 1);
const plain1 = piscina(POOL_ECHO_PLAIN_MODULE, 1);

/** piscina direct on the definePoolTask module: its answer unwrapped as the ref does. */
const runDirect = async (pool: Piscina, n: number): Promise<number> =>
  ((await pool.run({ n })) as { value: number }).value;

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();

const [refLatency, directLatency] = await interleaved(
  ROUNDS,
  () => sequential((i) => one.run({ n: i }), PER_ROUND),
  () => sequential((i) => runDirect(direct1, i), PER_ROUND),
);
const [, plainLatency] = await interleaved(
  Math.max(2, Math.floor(ROUNDS / 2)),
  () => sequential((i) => one.run({ n: i }), PER_ROUND),
  () => sequential((i) => plain1.run({ n: i }) as Promise<number>, PER_ROUND),
);
const [refRate, directRate] = await interleaved(
  ROUNDS,
  async () => [await throughput((i) => one.run({ n: i }), PER_THROUGHPUT_ROUND, IN_FLIGHT)],
  async () => [await throughput((i) => runDirect(direct1, i), PER_THROUGHPUT_ROUND, IN_FLIGHT)],
);
const [, plainRate] = await interleaved(
  Math.max(2, Math.floor(ROUNDS / 2)),
  async () => [await throughput((i) => one.run({ n: i }), PER_THROUGHPUT_ROUND, IN_FLIGHT)],
  async () => [
    await throughput((i) => plain1.run({ n: i }) as Promise<number>, PER_THROUGHPUT_ROUND, IN_FLIGHT),
  ],
);

/** Per round, side A's figure over side B's (the two ran back to back); the median of those ratios. */
function pairedRatio(a: number[], b: number[], size: number, figure: (chunk: number[]) => number): number {
  const ratios: number[] = [];
  for (let i = 0; i + size <= a.length && i + size <= b.length; i += size) {
    ratios.push(figure(a.slice(i, i + size)) / figure(b.slice(i, i + size)));
  }
  return summarize(ratios).p50;
}

const ref = summarize(refLatency);
const direct = summarize(directLatency);
const plain = summarize(plainLatency);
const median = (values: number[]): number => summarize(values).p50;
const fmt = (n: number, digits = 1): string => n.toFixed(digits);
const latencyRatio = pairedRatio(refLatency, directLatency, PER_ROUND, (chunk) => median(chunk));
const rateRatio = pairedRatio(directRate, refRate, 1, (chunk) => chunk[0] ?? NaN);
console.log(
  `pool bench: ${ROUNDS} alternating rounds, Node ${process.version}, load average before ${loadBefore}`,
);
console.log(
  '| measure | pool child (PoolRef) | piscina direct | ratio (pooled; median of rounds) | target |',
);
console.log('|---|---:|---:|---:|---|');
console.log(
  `| round trip p50 (µs), one at a time | ${fmt(ref.p50)} | ${fmt(direct.p50)} | ${fmt(ref.p50 / direct.p50, 2)}x; ${fmt(latencyRatio, 2)}x | ≤ 1.1x |`,
);
console.log(
  `| round trip p99 (µs), one at a time | ${fmt(ref.p99)} | ${fmt(direct.p99)} | ${fmt(ref.p99 / direct.p99, 2)}x | (reported) |`,
);
console.log(
  `| tasks/s, ${IN_FLIGHT} in flight | ${fmt(median(refRate), 0)} | ${fmt(median(directRate), 0)} | ${fmt(median(directRate) / median(refRate), 2)}x; ${fmt(rateRatio, 2)}x (time per task) | ≤ 1.1x |`,
);
console.log(
  `| piscina on a plain function (no envelope) | | p50 ${fmt(plain.p50)} µs, ${fmt(median(plainRate), 0)} tasks/s | | (reference) |`,
);
console.log(`load average after ${load()}`);

await root.stop();
await Promise.all([direct1, plain1].map((pool) => pool.destroy()));
await system.shutdown();

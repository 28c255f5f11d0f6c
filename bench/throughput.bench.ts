/**
 * Call and cast throughput against the upper reference: a raw Worker on a
 * MessagePort, batched by hand (64 messages per postMessage, see
 * fixtures/batched-raw-worker.ts). Issue 11 §5: calls with 100 in flight
 * ≥ 0.9x of it, casts ≥ 0.5x. The sides run in alternating rounds (which
 * goes first rotates), and each figure is the median over the rounds.
 *
 *   npm run build && node dist/bench/throughput.bench.js [rounds=30]
 *   node dist/bench/throughput.bench.js 30 /path/to/other/dist [...]
 *
 * With more arguments, the runtime built in each dist directory (another
 * commit's `npm run build`) runs as one more side in the same rounds: the A/B
 * of a change, each side against the same reference in the same run.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { BATCH, CALLS, CASTS, REPORT } from './fixtures/batched-raw-worker.js';
import { median, throughput } from './measure.js';

const BATCHED_RAW_WORKER = new URL('./fixtures/batched-raw-worker.js', import.meta.url);
const ROUNDS = Number(process.argv[2] ?? 30);
const OTHER_DISTS = process.argv.slice(3);
const IN_FLIGHT = 100;
const CALLS_PER_ROUND = 50_000;
const CASTS_PER_ROUND = 500_000;
const logger = pino({ level: 'silent' });

interface Side {
  name: string;
  call(value: number): Promise<unknown>;
  cast(): void;
  /** Resolves with the number of casts handled so far, once every cast sent before it was. */
  count(): Promise<number>;
  close(): Promise<void>;
}

// ------------------------------------------------------------ the reference

async function batchedRaw(): Promise<Side> {
  const worker = new Worker(BATCHED_RAW_WORKER);
  const { port1: port, port2 } = new MessageChannel();
  worker.postMessage({ port: port2 }, [port2]);
  await new Promise((done) => worker.once('message', done));

  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 1;
  let calls: unknown[] = [CALLS];
  let casts: unknown[] = [CASTS];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (calls.length > 1) port.postMessage(calls);
    if (casts.length > 1) port.postMessage(casts);
    calls = [CALLS];
    casts = [CASTS];
  };
  const scheduleFlush = (): void => {
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flush);
    }
  };
  port.on('message', (packet: unknown[]) => {
    if (packet[0] === CALLS) {
      for (let i = 1; i < packet.length; i += 2) {
        const id = packet[i] as number;
        const settle = pending.get(id);
        pending.delete(id);
        settle?.(packet[i + 1]);
      }
    } else if (packet[0] === REPORT) {
      const settle = pending.get(packet[1] as number);
      pending.delete(packet[1] as number);
      settle?.(packet[2]);
    }
  });
  return {
    name: 'batched raw',
    call: (value) =>
      new Promise((settle) => {
        const id = nextId++;
        pending.set(id, settle);
        calls.push(id, value);
        if (calls.length >= 1 + 2 * BATCH) {
          if (casts.length > 1) port.postMessage(casts);
          casts = [CASTS];
          port.postMessage(calls);
          calls = [CALLS];
        } else scheduleFlush();
      }),
    cast: () => {
      casts.push(0);
      if (casts.length >= 1 + BATCH) {
        if (calls.length > 1) port.postMessage(calls);
        calls = [CALLS];
        port.postMessage(casts);
        casts = [CASTS];
      } else scheduleFlush();
    },
    count: () =>
      new Promise((settle) => {
        flush();
        const id = nextId++;
        pending.set(id, settle as (value: unknown) => void);
        port.postMessage([REPORT, id]);
      }),
    close: async () => {
      port.close();
      await worker.terminate();
    },
  };
}

// ------------------------------------------------------------------ tether

interface EchoRef {
  call(method: 'echo', value: number): Promise<number>;
  call(method: 'casts'): Promise<number>;
  cast(method: 'bump'): void;
}

/** The runtime of a dist directory (this build's, or another commit's for an A/B). */
async function tether(name: string, dist: string): Promise<Side> {
  const base = pathToFileURL(resolve(dist) + '/').href;
  const runtime = (await import(
    new URL('runtime/index.js', base).href
  )) as typeof import('../runtime/index.js');
  const supervisors = (await import(
    new URL('supervisors/index.js', base).href
  )) as typeof import('../supervisors/index.js');
  const system = new runtime.ActorSystem({ logger, callTimeoutMs: 60_000 });
  const root = new supervisors.Supervisor(system, {
    id: 'bench',
    children: [{ id: 'echo', module: new URL('bench/fixtures/echo-actor.js', base).href }],
  });
  await root.start();
  const echo = system.ref('echo') as unknown as EchoRef;
  return {
    name,
    call: (value) => echo.call('echo', value),
    cast: () => echo.cast('bump'),
    count: () => echo.call('casts'),
    close: async () => {
      await root.stop();
      await system.shutdown();
    },
  };
}

// ------------------------------------------------------------------- bench

async function castRate(side: Side): Promise<number> {
  const started = performance.now();
  const before = await side.count();
  for (let i = 0; i < CASTS_PER_ROUND; i += 1) side.cast();
  const after = await side.count();
  return (after - before) / ((performance.now() - started) / 1000);
}

/** CPU time of the whole process (every thread), in µs. */
function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

async function main(): Promise<void> {
  const thisDist = resolve(new URL('..', import.meta.url).pathname);
  const sides = [await batchedRaw(), await tether('tether', thisDist)];
  for (const dist of OTHER_DISTS) sides.push(await tether(`tether (${dist})`, dist));
  const callRates = sides.map((): number[] => []);
  const castRates = sides.map((): number[] => []);
  const callCosts = sides.map((): number[] => []);
  const castCosts = sides.map((): number[] => []);
  const loads: number[] = [loadavg()[0] ?? NaN];
  // One warm-up round each, then rounds in which the order rotates.
  for (let round = -1; round < ROUNDS; round += 1) {
    for (let k = 0; k < sides.length; k += 1) {
      const index = (k + Math.max(round, 0)) % sides.length;
      const side = sides[index] as Side;
      let cpu = process.cpuUsage();
      const calls = await throughput((i) => side.call(i), CALLS_PER_ROUND, IN_FLIGHT);
      const callCpu = cpuMicros(process.cpuUsage(cpu)) / CALLS_PER_ROUND;
      cpu = process.cpuUsage();
      const casts = await castRate(side);
      const castCpu = cpuMicros(process.cpuUsage(cpu)) / CASTS_PER_ROUND;
      if (round >= 0) {
        callRates[index]?.push(calls);
        castRates[index]?.push(casts);
        callCosts[index]?.push(callCpu);
        castCosts[index]?.push(castCpu);
      }
    }
    loads.push(loadavg()[0] ?? NaN);
  }
  for (const side of sides) await side.close();

  const reference = { calls: median(callRates[0] ?? []), casts: median(castRates[0] ?? []) };
  console.log(`\n## Throughput bench — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ` +
      `load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run, ` +
      `${ROUNDS} rounds\n`,
  );
  const costs = { calls: median(callCosts[0] ?? []), casts: median(castCosts[0] ?? []) };
  console.log(
    '| side | calls/s, 100 in flight | ratio | CPU µs per call | ratio | casts/s | ratio | CPU µs per cast | ratio |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  sides.forEach((side, i) => {
    const calls = median(callRates[i] ?? []);
    const casts = median(castRates[i] ?? []);
    const callCpu = median(callCosts[i] ?? []);
    const castCpu = median(castCosts[i] ?? []);
    console.log(
      `| ${side.name} | ${calls.toFixed(0)} | ${(calls / reference.calls).toFixed(2)}x | ` +
        `${callCpu.toFixed(2)} | ${(callCpu / costs.calls).toFixed(2)}x | ` +
        `${casts.toFixed(0)} | ${(casts / reference.casts).toFixed(2)}x | ` +
        `${castCpu.toFixed(3)} | ${(castCpu / costs.casts).toFixed(2)}x |`,
    );
  });
  // Each round's ratio (the two sides ran back to back): its median is steadier than the
  // ratio of medians when the machine's load moves between rounds; the range shows how much it moved.
  console.log('\n| side | calls: median of round ratios (range) | casts: median of round ratios (range) |');
  console.log('|---|---|---|');
  for (let i = 1; i < sides.length; i += 1) {
    const callRatios = (callRates[i] ?? []).map((rate, r) => rate / (callRates[0]?.[r] ?? NaN));
    const castRatios = (castRates[i] ?? []).map((rate, r) => rate / (castRates[0]?.[r] ?? NaN));
    const summary = (values: number[]): string =>
      `${median(values).toFixed(2)}x (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}x)`;
    console.log(`| ${sides[i]?.name} | ${summary(callRatios)} | ${summary(castRatios)} |`);
  }
}

await main();

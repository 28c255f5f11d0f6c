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
import type { MessagePort } from 'node:worker_threads';
import { BATCH, CALLS, CASTS, REPORT, serve } from './fixtures/batched-raw-worker.js';
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
  return batchedRawClient(port, async () => {
    port.close();
    await worker.terminate();
  });
}

/** The batched raw channel with its server in this thread: what its code costs, without waiting on another thread. */
function batchedRawInThread(): Side {
  const { port1, port2 } = new MessageChannel();
  serve(port2);
  return batchedRawClient(port1, () => {
    port1.close();
    return Promise.resolve();
  });
}

function batchedRawClient(port: MessagePort, close: () => Promise<void>): Side {
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
    close,
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

interface CallPathModules {
  RefCore: typeof import('../runtime/ref.js').RefCore;
  CallServer: typeof import('../runtime/server.js').CallServer;
}

/** Tether's call path (a ref and a call server) with both ends in this thread, as the batched raw one above. */
async function tetherInThread(name: string, dist: string): Promise<Side> {
  const base = pathToFileURL(resolve(dist) + '/').href;
  const { RefCore } = (await import(new URL('runtime/ref.js', base).href)) as CallPathModules;
  const { CallServer } = (await import(new URL('runtime/server.js', base).href)) as CallPathModules;
  const { port1, port2 } = new MessageChannel();
  let casts = 0;
  const server = new CallServer(
    'echo',
    {
      echo: (value: number) => value,
      bump: () => {
        casts += 1;
      },
      casts: () => casts,
    },
    (_traceparent, handler, args) => handler(...args),
    () => undefined,
  );
  server.accept(port2);
  const ref = new RefCore('echo', { callTimeoutMs: 60_000 });
  ref.connect(port1);
  const echo = ref as unknown as EchoRef;
  return {
    name,
    call: (value) => echo.call('echo', value),
    cast: () => echo.cast('bump'),
    count: () => echo.call('casts'),
    close: () => {
      ref.disconnect(true, 'bench over');
      server.closeAll();
      return Promise.resolve();
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

interface Measured {
  callRates: number[][];
  castRates: number[][];
  callCosts: number[][];
  castCosts: number[][];
  loads: number[];
}

/** One warm-up round each, then rounds in which the order of the sides rotates. */
async function measure(sides: Side[]): Promise<Measured> {
  const m: Measured = {
    callRates: sides.map(() => []),
    castRates: sides.map(() => []),
    callCosts: sides.map(() => []),
    castCosts: sides.map(() => []),
    loads: [loadavg()[0] ?? NaN],
  };
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
        m.callRates[index]?.push(calls);
        m.castRates[index]?.push(casts);
        m.callCosts[index]?.push(callCpu);
        m.castCosts[index]?.push(castCpu);
      }
    }
    m.loads.push(loadavg()[0] ?? NaN);
  }
  for (const side of sides) await side.close();
  return m;
}

function loadRange(loads: number[]): string {
  return `load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run`;
}

async function main(): Promise<void> {
  const thisDist = resolve(new URL('..', import.meta.url).pathname);
  const dists = [thisDist, ...OTHER_DISTS];
  const label = (dist: string): string => (dist === thisDist ? 'tether' : `tether (${dist})`);
  console.log(`\n## Throughput bench — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${ROUNDS} rounds`,
  );

  const threads = [await batchedRaw()];
  for (const dist of dists) threads.push(await tether(label(dist), dist));
  const m = await measure(threads);
  console.log(`\n### Across threads (a worker), ${loadRange(m.loads)}\n`);
  const reference = { calls: median(m.callRates[0] ?? []), casts: median(m.castRates[0] ?? []) };
  const costs = { calls: median(m.callCosts[0] ?? []), casts: median(m.castCosts[0] ?? []) };
  console.log(
    '| side | calls/s, 100 in flight | ratio | CPU µs per call | ratio | casts/s | ratio | CPU µs per cast | ratio |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  threads.forEach((side, i) => {
    const calls = median(m.callRates[i] ?? []);
    const casts = median(m.castRates[i] ?? []);
    const callCpu = median(m.callCosts[i] ?? []);
    const castCpu = median(m.castCosts[i] ?? []);
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
  for (let i = 1; i < threads.length; i += 1) {
    const callRatios = (m.callRates[i] ?? []).map((rate, r) => rate / (m.callRates[0]?.[r] ?? NaN));
    const castRatios = (m.castRates[i] ?? []).map((rate, r) => rate / (m.castRates[0]?.[r] ?? NaN));
    const summary = (values: number[]): string =>
      `${median(values).toFixed(2)}x (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}x)`;
    console.log(`| ${threads[i]?.name} | ${summary(callRatios)} | ${summary(castRatios)} |`);
  }

  // The same code with both ends in this thread: no waiting for the other thread to be scheduled,
  // so what is left is what the code costs. The least CPU per message over the rounds: a busy
  // machine only ever adds to it.
  const inThread = [batchedRawInThread()];
  for (const dist of dists) inThread.push(await tetherInThread(label(dist), dist));
  const t = await measure(inThread);
  const least = (values: number[]): number => Math.min(...values);
  const rawCall = least(t.callCosts[0] ?? []);
  const rawCast = least(t.castCosts[0] ?? []);
  console.log(
    `\n### Both ends in one thread, least CPU per message over the rounds, ${loadRange(t.loads)}\n`,
  );
  console.log('| side | CPU µs per call, 100 in flight | ratio | CPU µs per cast | ratio |');
  console.log('|---|---:|---:|---:|---:|');
  inThread.forEach((side, i) => {
    const call = least(t.callCosts[i] ?? []);
    const cast = least(t.castCosts[i] ?? []);
    console.log(
      `| ${side.name} | ${call.toFixed(3)} | ${(call / rawCall).toFixed(2)}x | ${cast.toFixed(4)} | ${(cast / rawCast).toFixed(2)}x |`,
    );
  });
}

await main();

/**
 * Telemetry bench: BLOCK_READ commands per second through the commander
 * with tracing on (every trace sampled, exported over OTLP/HTTP protobuf to
 * a local sink in a process of its own, as a collector is) against tracing
 * off, in the same run: two services in this process, each with its own
 * simulator, measured in alternating rounds so neither gets the machine's
 * quieter moments. Target: on >= 0.8x off.
 *
 *   npm run build && node dist/bench/otel.bench.js
 *
 * BENCH_ROUNDS (default 9), BENCH_SAMPLER / BENCH_SAMPLER_ARG (default
 * always_on), BENCH_WRITE_SPANS=1 (a span per written frame as well).
 *
 * With tracing on each command makes a span in the commander's worker (and
 * one for its write in the connection's with BENCH_WRITE_SPANS=1), handed
 * over to the main thread and exported, and a latency measurement.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { CommanderApi } from '../contracts/actors.js';
import type { Block } from '../protocol/index.js';
import { resolveConfig } from '../config/index.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { startTelemetry } from '../otel/telemetry.js';
import type { Telemetry } from '../otel/telemetry.js';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { median, throughput } from './measure.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const IN_FLIGHT = 100;
const IN_FLIGHT_CALLS = 20_000;
const SEQUENTIAL_CALLS = 2000;
const TARGET = 0.8;

interface Side {
  service: Service;
  sim: Simulator;
  stateDir: string;
  telemetry: Telemetry | undefined;
  call: () => Promise<unknown>;
}

const quiet = pino({ level: 'info' }, new Writable({ write: (_c, _e, done) => done() }));

async function startSide(env: NodeJS.ProcessEnv | undefined): Promise<Side> {
  const sim = await startSimulator({ port: 0 });
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-otel-bench-'));
  const config = resolveConfig({
    env: {},
    overrides: {
      discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port: sim.address?.port ?? 0 } },
      stateDir,
      log: { level: 'info' },
      // BENCH_WRITE_SPANS=1: also a span per written frame (telemetry.writeSpans).
      telemetry: { writeSpans: process.env['BENCH_WRITE_SPANS'] === '1' },
    },
  }).config;
  const telemetry = env === undefined ? undefined : await startTelemetry(config.telemetry, env, quiet);
  const service = await startService(config, {
    logger: quiet,
    env: {},
    inContainer: false,
    ...(telemetry === undefined ? {} : { telemetry }),
  });
  await new Promise<void>((resolve) => {
    if (service.kernel.state.phase.name === 'Synchronized') resolve();
    const off = service.kernel.onPhaseChange((change) => {
      if (change.to.name !== 'Synchronized') return;
      off();
      resolve();
    });
  });
  const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
  const created = (await commander.call('request', 'BLOCK_CREATE', {
    type: 'TempSensor',
    data: { value: 20.5 },
  })) as Block;
  const call = (): Promise<unknown> => commander.call('request', 'BLOCK_READ', { id: created.id });
  return { service, sim, stateDir, telemetry, call };
}

async function stopSide(side: Side): Promise<void> {
  await side.service.stop();
  await side.telemetry?.shutdown();
  await side.sim.close();
  await rm(side.stateDir, { recursive: true, force: true });
}

/** Alternating rounds (and which goes first), one warm-up each; per-round ratios on/off. */
async function compare(
  measure: (side: Side) => Promise<number>,
  on: Side,
  off: Side,
): Promise<{ on: number[]; off: number[]; ratios: number[] }> {
  await measure(on);
  await measure(off);
  const out = { on: [] as number[], off: [] as number[], ratios: [] as number[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    const first = round % 2 === 0 ? on : off;
    const second = first === on ? off : on;
    const a = await measure(first);
    const b = await measure(second);
    const [rateOn, rateOff] = first === on ? [a, b] : [b, a];
    out.on.push(rateOn);
    out.off.push(rateOff);
    out.ratios.push(rateOn / rateOff);
  }
  return out;
}

/** The sink's next message of the given shape. */
function nextMessage<T>(sink: ChildProcess, has: (message: unknown) => message is T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!has(message)) return;
      sink.off('exit', onExit);
      sink.off('message', onMessage);
      resolve(message);
    };
    const onExit = (): void => reject(new Error('the OTLP sink exited'));
    sink.on('message', onMessage);
    sink.once('exit', onExit);
  });
}

async function main(): Promise<void> {
  // The collector's stand-in, in its own process as a collector is (fixtures/otlp-sink.ts).
  const sink = fork(new URL('./fixtures/otlp-sink.js', import.meta.url));
  const { port } = await nextMessage(
    sink,
    (m): m is { port: number } => typeof m === 'object' && m !== null && 'port' in m,
  );
  const endpoint = `http://127.0.0.1:${port}`;

  const on = await startSide({
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_TRACES_SAMPLER: process.env['BENCH_SAMPLER'] ?? 'always_on',
    ...(process.env['BENCH_SAMPLER_ARG'] === undefined
      ? {}
      : { OTEL_TRACES_SAMPLER_ARG: process.env['BENCH_SAMPLER_ARG'] }),
  });
  const off = await startSide(undefined);
  // Start-up is over once the warm standbys are made (1.5 s after a module's first start).
  await new Promise((resolve) => setTimeout(resolve, 2000));
  try {
    const inFlight = await compare((side) => throughput(side.call, IN_FLIGHT_CALLS, IN_FLIGHT), on, off);
    const sequential = await compare((side) => throughput(side.call, SEQUENTIAL_CALLS, 1), on, off);
    const rows = [
      { what: `BLOCK_READ, ${IN_FLIGHT} in flight (commands/s)`, ...inFlight },
      { what: 'BLOCK_READ, one at a time (commands/s)', ...sequential },
    ];
    console.log(`\n## Telemetry bench — ${new Date().toISOString()}`);
    console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})\n`);
    console.log(
      '| measure | tracing on (sample all) | tracing off | ratio (median of rounds) | target | met |',
    );
    console.log('|---|---:|---:|---:|---|---|');
    for (const row of rows) {
      const ratio = median(row.ratios);
      console.log(
        `| ${row.what} | ${median(row.on).toFixed(0)} | ${median(row.off).toFixed(0)} | ${ratio.toFixed(2)}x | ≥ ${TARGET}x | ${ratio >= TARGET ? 'yes' : 'NO'} |`,
      );
    }
    console.log(
      `\nper-round ratios, ${IN_FLIGHT} in flight: ${inFlight.ratios.map((r) => r.toFixed(2)).join(', ')}; ` +
        `one at a time: ${sequential.ratios.map((r) => r.toFixed(2)).join(', ')}`,
    );
  } finally {
    await stopSide(on);
    await stopSide(off);
    const counted = nextMessage(
      sink,
      (m): m is { exports: number } => typeof m === 'object' && m !== null && 'exports' in m,
    );
    sink.send('count');
    console.log(`exports received by the sink: ${(await counted).exports}`);
    sink.kill();
  }
}

await main();

/**
 * Telemetry bench: what tracing costs in CPU per command, at a fixed rate.
 *
 * Two real `tether run` processes, each against a simulated controller of
 * its own (in this process, so its work is not counted): one with tracing
 * on, every trace sampled (OTEL_TRACES_SAMPLER=always_on) and exported over
 * OTLP/HTTP protobuf to a sink in a process of its own (as a collector is),
 * one with telemetry off. Each round drives one of them with BLOCK_READ
 * commands through the HTTP API at a fixed rate (1,000 a second by default)
 * for a fixed time, and reads the CPU time the service process used meanwhile
 * (utime + stime of all its threads from /proc/<pid>/stat: what
 * process.cpuUsage() reports inside it, in ticks of 10 ms). Rounds
 * alternate which side goes first, so neither gets the machine's quieter
 * moments. Target: tracing on costs at most 1 % of one core at 1,000
 * commands a second, i.e. at most 10 µs of CPU per command more than off.
 *
 *   npm run bench:otel
 *
 * BENCH_ROUNDS (default 6), BENCH_RATE (commands/s, default 1000),
 * BENCH_SECONDS (per round, default 10), BENCH_SAMPLER / BENCH_SAMPLER_ARG
 * (default always_on), BENCH_WRITE_SPANS=1 (a span per written frame too),
 * BENCH_PROFILE_DIR (CPU profiles of the services' threads, in on/ and off/).
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { median, summarize } from './measure.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
/** 1 % of one core, per command at RATE: µs of CPU. */
const TARGET_US = (0.01 * 1e6) / RATE;
/** Commands outstanding at most; past it the driver skips (and counts) rather than pile up. */
const MAX_IN_FLIGHT = 200;
const TICKS_PER_SECOND = 100;

const CLI = fileURLToPath(new URL('../cli/tether.js', import.meta.url));

interface Side {
  name: 'on' | 'off';
  child: ChildProcess;
  sim: Simulator;
  stateDir: string;
  port: number;
  blockId: number;
}

interface Round {
  /** CPU of the service process per completed command, µs. */
  cpuPerCommandUs: number;
  /** Share of one core over the round. */
  core: number;
  commands: number;
  failed: number;
  skipped: number;
  /** Round-trip latency samples, µs. */
  latencies: number[];
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** CPU time used so far by every thread of `pid`, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
}

function post(port: number, body: unknown): Promise<{ status: number; body: unknown }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/commands',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Resolves with the first JSON log line of `child` that matches; rejects after `ms`. */
function logLine(
  child: ChildProcess,
  match: (line: Record<string, unknown>) => boolean,
  ms: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) {
        try {
          const line = JSON.parse(part) as Record<string, unknown>;
          if (!match(line)) continue;
          done();
          resolve(line);
          return;
        } catch {
          // not a JSON line
        }
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no such log line within ${ms} ms`));
    }, ms);
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
    };
    child.stdout?.on('data', onData);
  });
}

async function startSide(name: Side['name'], env: NodeJS.ProcessEnv): Promise<Side> {
  const sim = await startSimulator({ port: 0 });
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-otel-bench-'));
  // BENCH_PROFILE_DIR: a V8 CPU profile of each thread of each service, written at its stop.
  const profileDir = process.env['BENCH_PROFILE_DIR'];
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`];
  const child = spawn(
    process.execPath,
    [
      ...profile,
      CLI,
      'run',
      '--discovery',
      'tcp',
      '--tcp',
      `127.0.0.1:${sim.address?.port}`,
      '--state-dir',
      stateDir,
    ],
    {
      env: {
        PATH: process.env['PATH'] ?? '',
        TETHER_HTTP__PORT: '0',
        TETHER_LOG__LEVEL: 'info',
        ...(process.env['BENCH_WRITE_SPANS'] === '1' ? { TETHER_TELEMETRY__WRITE_SPANS: 'true' } : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const listening = logLine(child, (l) => l['event'] === 'http-listening', 60_000);
  const synchronized = logLine(child, (l) => l['event'] === 'phase' && l['to'] === 'Synchronized', 60_000);
  const port = Number((await listening)['port']);
  await synchronized;
  // Drain the rest of its output so the pipe never fills.
  child.stdout?.resume();
  const created = await post(port, {
    opcode: 'BLOCK_CREATE',
    payload: { type: 'TempSensor', data: { value: 20.5 } },
  });
  const blockId = (created.body as { payload: { id: number } }).payload.id;
  return { name, child, sim, stateDir, port, blockId };
}

async function stopSide(side: Side): Promise<void> {
  const exited = new Promise((resolve) => side.child.once('exit', resolve));
  side.child.kill('SIGTERM');
  await exited;
  await side.sim.close();
  await rm(side.stateDir, { recursive: true, force: true });
}

/** BLOCK_READ at RATE a second for `seconds`, against one side; its CPU meanwhile. */
async function drive(side: Side, seconds: number): Promise<Round> {
  const pid = side.child.pid as number;
  const body = { opcode: 'BLOCK_READ', payload: { id: side.blockId } };
  const latencies: number[] = [];
  let sent = 0;
  let inFlight = 0;
  let failed = 0;
  let skipped = 0;
  const pending = new Set<Promise<void>>();
  const ticksBefore = cpuTicks(pid);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(Math.floor(elapsed * RATE), seconds * RATE);
      while (sent < due) {
        sent += 1;
        if (inFlight >= MAX_IN_FLIGHT) {
          skipped += 1;
          continue;
        }
        inFlight += 1;
        const t = performance.now();
        const call: Promise<void> = post(side.port, body).then(
          (reply) => {
            if (reply.status === 200) latencies.push((performance.now() - t) * 1000);
            else failed += 1;
          },
          () => {
            failed += 1;
          },
        );
        const tracked = call.finally(() => {
          inFlight -= 1;
          pending.delete(tracked);
        });
        pending.add(tracked);
      }
      if (sent >= seconds * RATE) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(pending);
  const wall = (performance.now() - started) / 1000;
  const cpuSeconds = (cpuTicks(pid) - ticksBefore) / TICKS_PER_SECOND;
  return {
    cpuPerCommandUs: (cpuSeconds * 1e6) / Math.max(1, latencies.length),
    core: cpuSeconds / wall,
    commands: latencies.length,
    failed,
    skipped,
    latencies,
  };
}

function forked(): Promise<{ sink: ChildProcess; port: number }> {
  const sink = fork(new URL('./fixtures/otlp-sink.js', import.meta.url));
  return new Promise((resolve, reject) => {
    sink.once('message', (message) => resolve({ sink, port: (message as { port: number }).port }));
    sink.once('exit', () => reject(new Error('the OTLP sink exited')));
  });
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const { sink, port } = await forked();
  const on = await startSide('on', {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_TRACES_SAMPLER: process.env['BENCH_SAMPLER'] ?? 'always_on',
    ...(process.env['BENCH_SAMPLER_ARG'] === undefined
      ? {}
      : { OTEL_TRACES_SAMPLER_ARG: process.env['BENCH_SAMPLER_ARG'] }),
  });
  const off = await startSide('off', {});
  const rounds: Record<Side['name'], Round[]> = { on: [], off: [] };
  try {
    // Warm-up (JIT, standbys made 1.5 s after each first start), not counted.
    await drive(on, 3);
    await drive(off, 3);
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? [on, off] : [off, on];
      for (const side of order) {
        const result = await drive(side, SECONDS);
        rounds[side.name].push(result);
        console.error(
          `round ${round + 1} ${side.name}: ${fmt(result.cpuPerCommandUs)} µs/command, ` +
            `${fmt(result.core * 100)} % of a core, ${result.commands} ok, ${result.failed} failed, ${result.skipped} skipped`,
        );
      }
    }
  } finally {
    await stopSide(on);
    await stopSide(off);
    sink.kill();
    agent.destroy();
  }

  const per = (name: Side['name']): number => median(rounds[name].map((r) => r.cpuPerCommandUs));
  const deltas = rounds.on.map((r, i) => r.cpuPerCommandUs - (rounds.off[i] as Round).cpuPerCommandUs);
  const delta = median(deltas);
  const latency = (name: Side['name']): { p50: number; p99: number; max: number } =>
    summarize(rounds[name].flatMap((r) => r.latencies));
  const lat = { on: latency('on'), off: latency('off') };
  const totals = (name: Side['name']): string =>
    `${rounds[name].reduce((n, r) => n + r.commands, 0)} ok, ${rounds[name].reduce((n, r) => n + r.failed, 0)} failed, ${rounds[name].reduce((n, r) => n + r.skipped, 0)} skipped`;

  console.log(`\n## Telemetry bench — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}); ` +
      `${ROUNDS} rounds of ${SECONDS} s at ${RATE} BLOCK_READ/s over HTTP; ` +
      `sampler ${process.env['BENCH_SAMPLER'] ?? 'always_on'}${process.env['BENCH_WRITE_SPANS'] === '1' ? ', write spans' : ''}\n`,
  );
  console.log('| measure | tracing on | tracing off | on − off |');
  console.log('|---|---:|---:|---:|');
  console.log(
    `| CPU per command, µs (median of rounds) | ${fmt(per('on'))} | ${fmt(per('off'))} | ${fmt(delta)} |`,
  );
  console.log(
    `| share of one core at ${RATE}/s (median) | ${fmt(median(rounds.on.map((r) => r.core)) * 100)} % | ` +
      `${fmt(median(rounds.off.map((r) => r.core)) * 100)} % | ${fmt((delta * RATE) / 1e4, 2)} % |`,
  );
  console.log(
    `| latency p50 / p99, ms | ${fmt(lat.on.p50 / 1000, 2)} / ${fmt(lat.on.p99 / 1000, 2)} | ` +
      `${fmt(lat.off.p50 / 1000, 2)} / ${fmt(lat.off.p99 / 1000, 2)} | |`,
  );
  console.log(
    `\ntarget: at most ${fmt(TARGET_US)} µs per command (1 % of one core at ${RATE}/s): ` +
      `${delta <= TARGET_US ? 'met' : 'NOT met'}`,
  );
  console.log(`per-round on − off, µs: ${deltas.map((d) => fmt(d)).join(', ')}`);
  console.log(`commands: on ${totals('on')}; off ${totals('off')}`);
}

await main();

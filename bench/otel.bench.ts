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
 * process.cpuUsage() reports inside it, in ticks of 10 ms).
 *
 * Sides are driven in turn, one round each, each round starting with the
 * next side, so none always gets the machine's quieter moments; the figure
 * is the median over rounds of (on − off) within a round. BENCH_CONCURRENT=1
 * drives all sides at the same time instead, request for request, so they
 * share the machine's moods (on a shared machine the CPU a command takes
 * moves with the load: a thread woken for every message costs more than one
 * that finds a batch waiting).
 *
 * Target: tracing on costs at most 1 % of one core at 1,000 commands a
 * second, i.e. at most 10 µs of CPU per command more than off.
 *
 *   npm run bench:otel
 *
 * BENCH_ROUNDS (default 6), BENCH_RATE (commands/s, default 1000),
 * BENCH_SECONDS (per round, default 10), BENCH_LEAD (seconds driven before each
 * side's measured part, not counted, default 2), BENCH_SAMPLER / BENCH_SAMPLER_ARG
 * (default always_on), BENCH_WRITE_SPANS=1 (a span per written frame too),
 * BENCH_PROFILE_DIR (CPU profiles of the services' threads, in on/ and off/),
 * BENCH_VARIANTS (the traced sides instead of the one `on`, each with
 * environment variables of its own: `name:KEY=VALUE,KEY=VALUE;name2:...`,
 * e.g. `on:;ratio:OTEL_TRACES_SAMPLER=traceidratio,OTEL_TRACES_SAMPLER_ARG=0.1`;
 * BENCH_CLI=<path of another build's dist/cli/tether.js> in a variant's list
 * runs that build for it, e.g. `before:BENCH_CLI=/tmp/old/dist/cli/tether.js;after:`).
 * The machine must keep up with every side at RATE: three sides at 1,000 a
 * second are about what two loaded cores carry.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { median, summarize } from './measure.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
/** Seconds each side is driven, not counted, before its measured part of a round (in turn only). */
const LEAD = Number(process.env['BENCH_LEAD'] ?? 2);
/** 1 % of one core, per command at RATE: µs of CPU. */
const TARGET_US = (0.01 * 1e6) / RATE;
/** Commands outstanding at most; past it the driver skips (and counts) rather than pile up. */
const MAX_IN_FLIGHT = 200;
const TICKS_PER_SECOND = 100;

const CLI = fileURLToPath(new URL('../cli/tether.js', import.meta.url));

interface Side {
  name: string;
  child: ChildProcess;
  sim: Simulator;
  stateDir: string;
  port: number;
  blockId: number;
}

interface Round {
  /** CPU of the service process per completed command, µs. */
  cpuPerCommandUs: number;
  /** Of which its main thread's (HTTP API, kernel, exporters); the rest is the actors' threads and V8's. */
  mainPerCommandUs: number;
  /** Share of one core over the round. */
  core: number;
  commands: number;
  failed: number;
  skipped: number;
  /** Round-trip latency samples, µs. */
  latencies: number[];
}

/** A side's load during a round: what it sent, what came back. */
class Load {
  readonly latencies: number[] = [];
  readonly pending = new Set<Promise<void>>();
  inFlight = 0;
  failed = 0;
  skipped = 0;
  readonly #body: unknown;

  constructor(readonly side: Side) {
    this.#body = { opcode: 'BLOCK_READ', payload: { id: side.blockId } };
  }

  send(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.skipped += 1;
      return;
    }
    this.inFlight += 1;
    const t = performance.now();
    const call: Promise<void> = post(this.side.port, this.#body).then(
      (reply) => {
        if (reply.status === 200) this.latencies.push((performance.now() - t) * 1000);
        else this.failed += 1;
      },
      () => {
        this.failed += 1;
      },
    );
    const tracked = call.finally(() => {
      this.inFlight -= 1;
      this.pending.delete(tracked);
    });
    this.pending.add(tracked);
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** CPU time used so far by every thread of `pid` (or by its thread `thread`), in clock ticks. */
function cpuTicks(pid: number, thread?: number): number {
  const stat = readFileSync(
    thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
    'utf8',
  );
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

async function startSide(name: string, env: NodeJS.ProcessEnv, cli = CLI): Promise<Side> {
  const sim = await startSimulator({ port: 0 });
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-otel-bench-'));
  // BENCH_PROFILE_DIR: a V8 CPU profile of each thread of each service, written at its stop.
  const profileDir = process.env['BENCH_PROFILE_DIR'];
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`];
  const child = spawn(
    process.execPath,
    [
      ...profile,
      cli,
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

/**
 * BLOCK_READ at RATE a second for `seconds` against each of `sides` at the
 * same time (one schedule: the n-th command of every side goes out in the
 * same tick); the CPU each service used meanwhile.
 */
async function drive(sides: Side[], seconds: number): Promise<Round[]> {
  const loads = sides.map((side) => new Load(side));
  const pids = sides.map((side) => side.child.pid as number);
  const ticksBefore = pids.map((pid) => cpuTicks(pid));
  // The main thread's task id is the process id.
  const mainBefore = pids.map((pid) => cpuTicks(pid, pid));
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(Math.floor(elapsed * RATE), seconds * RATE);
      for (; sent < due; sent += 1) for (const load of loads) load.send();
      if (sent >= seconds * RATE) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(loads.flatMap((load) => [...load.pending]));
  const wall = (performance.now() - started) / 1000;
  return loads.map((load, i) => {
    const pid = pids[i] as number;
    const cpuSeconds = (cpuTicks(pid) - (ticksBefore[i] as number)) / TICKS_PER_SECOND;
    const mainSeconds = (cpuTicks(pid, pid) - (mainBefore[i] as number)) / TICKS_PER_SECOND;
    return {
      cpuPerCommandUs: (cpuSeconds * 1e6) / Math.max(1, load.latencies.length),
      mainPerCommandUs: (mainSeconds * 1e6) / Math.max(1, load.latencies.length),
      core: cpuSeconds / wall,
      commands: load.latencies.length,
      failed: load.failed,
      skipped: load.skipped,
      latencies: load.latencies,
    };
  });
}

interface Sink {
  process: ChildProcess;
  port: number;
}

function startSink(): Promise<Sink> {
  const sink = fork(new URL('./fixtures/otlp-sink.js', import.meta.url));
  return new Promise((resolve, reject) => {
    sink.once('message', (message) => resolve({ process: sink, port: (message as { port: number }).port }));
    sink.once('exit', () => reject(new Error('the OTLP sink exited')));
  });
}

/** What a sink has received: export requests, and command spans in them. */
function sinkCounts(sink: Sink): Promise<{ exports: number; commandSpans: number }> {
  return new Promise((resolve) => {
    sink.process.once('message', (message) => resolve(message as { exports: number; commandSpans: number }));
    sink.process.send('count');
  });
}

/** BENCH_VARIANTS: `name:KEY=VALUE,KEY=VALUE;name2:...`, more traced sides with variables of their own. */
function variants(): Array<{ name: string; env: Record<string, string> }> {
  return (process.env['BENCH_VARIANTS'] ?? '')
    .split(';')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const colon = part.indexOf(':');
      const name = (colon < 0 ? part : part.slice(0, colon)).trim();
      const env: Record<string, string> = {};
      for (const pair of colon < 0 ? [] : part.slice(colon + 1).split(',')) {
        const eq = pair.indexOf('=');
        if (eq > 0) env[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return { name, env };
    });
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const sequential = process.env['BENCH_CONCURRENT'] !== '1';
  const listed = variants();
  const traced = listed.length > 0 ? listed : [{ name: 'on', env: {} }];
  const sinks = new Map<string, Sink>();
  const sides: Side[] = [await startSide('off', {})];
  for (const { name, env } of traced) {
    // A sink of its own per traced side, so each side's exported spans can be counted.
    const sink = await startSink();
    sinks.set(name, sink);
    // BENCH_CLI in a variant's list runs another build of tether for it (a before/after in one run).
    const { BENCH_CLI: cli, ...serviceEnv } = env;
    sides.push(
      await startSide(
        name,
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}`,
          OTEL_TRACES_SAMPLER: process.env['BENCH_SAMPLER'] ?? 'always_on',
          ...(process.env['BENCH_SAMPLER_ARG'] === undefined
            ? {}
            : { OTEL_TRACES_SAMPLER_ARG: process.env['BENCH_SAMPLER_ARG'] }),
          ...serviceEnv,
        },
        cli,
      ),
    );
  }
  const rounds = new Map<string, Round[]>(sides.map((side) => [side.name, []]));
  const exported = new Map<string, { exports: number; commandSpans: number }>();
  /** Commands that got an answer, each a command span when traced (BLOCK_CREATE and the warm-up included). */
  const completed = new Map<string, number>();
  const report = (round: number, side: Side, result: Round): void => {
    rounds.get(side.name)?.push(result);
    completed.set(side.name, (completed.get(side.name) ?? 0) + result.commands);
    console.error(
      `round ${round + 1} ${side.name}: ${fmt(result.cpuPerCommandUs)} µs/command ` +
        `(main thread ${fmt(result.mainPerCommandUs)}), ` +
        `${fmt(result.core * 100)} % of a core, ${result.commands} ok, ${result.failed} failed, ${result.skipped} skipped`,
    );
  };
  try {
    // Warm-up (JIT, standbys made 1.5 s after each first start), not counted.
    const warmUp = await drive(sides, 3);
    sides.forEach((side, i) => completed.set(side.name, 1 + (warmUp[i]?.commands ?? 0)));
    for (let round = 0; round < ROUNDS; round += 1) {
      if (!sequential) {
        const results = await drive(sides, SECONDS);
        sides.forEach((side, i) => report(round, side, results[i] as Round));
        continue;
      }
      // In turn, each round starting with the next side, so none always goes first.
      for (let k = 0; k < sides.length; k += 1) {
        const side = sides[(round + k) % sides.length] as Side;
        // A lead-in, not counted: a process idle for a round's length costs tens of µs more per
        // command in its first seconds (its heap shrunk, its threads asleep), whichever side it is.
        if (LEAD > 0) {
          const [lead] = await drive([side], LEAD);
          completed.set(side.name, (completed.get(side.name) ?? 0) + (lead?.commands ?? 0));
        }
        const [result] = await drive([side], SECONDS);
        report(round, side, result as Round);
      }
    }
    // What reached the collector, once the last batches are out (the main thread's delay is 5 s).
    for (const [name, sink] of sinks) {
      let counts = await sinkCounts(sink);
      for (
        let waited = 0;
        waited < 10_000 && counts.commandSpans < (completed.get(name) ?? 0);
        waited += 500
      ) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        counts = await sinkCounts(sink);
      }
      exported.set(name, counts);
    }
  } finally {
    for (const side of sides) await stopSide(side);
    for (const sink of sinks.values()) sink.process.kill();
    agent.destroy();
  }

  const of = (name: string): Round[] => rounds.get(name) ?? [];
  const off = of('off');
  const cpu = (name: string): number => median(of(name).map((r) => r.cpuPerCommandUs));
  const deltas = (name: string, key: 'cpuPerCommandUs' | 'mainPerCommandUs' = 'cpuPerCommandUs'): number[] =>
    of(name).map((r, i) => r[key] - (off[i] as Round)[key]);
  const sum = (name: string, key: 'commands' | 'failed' | 'skipped'): number =>
    of(name).reduce((n, r) => n + r[key], 0);

  console.log(`\n## Telemetry bench — ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ` +
      `${loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')} at the end; ` +
      `${ROUNDS} rounds of ${SECONDS} s at ${RATE} BLOCK_READ/s over HTTP per side, sides driven ` +
      `${sequential ? 'in turn' : 'at the same time'}; sampler ${process.env['BENCH_SAMPLER'] ?? 'always_on'}` +
      `${process.env['BENCH_WRITE_SPANS'] === '1' ? ', write spans' : ''}\n`,
  );
  console.log(
    '| side | CPU per command, µs (median) | − off, µs (median of rounds) | share of one core at ' +
      `${RATE}/s, − off | of which main thread − off, µs | latency p50 / p99, ms | command spans exported |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const side of sides) {
    const lat = summarize(of(side.name).flatMap((r) => r.latencies));
    const delta = side.name === 'off' ? undefined : median(deltas(side.name));
    const spans = exported.get(side.name);
    console.log(
      `| ${side.name} | ${fmt(cpu(side.name))} | ${delta === undefined ? '' : fmt(delta)} | ` +
        `${delta === undefined ? '' : `${fmt((delta * RATE) / 1e4, 2)} %`} | ` +
        `${delta === undefined ? '' : fmt(median(deltas(side.name, 'mainPerCommandUs')))} | ` +
        `${fmt(lat.p50 / 1000, 2)} / ${fmt(lat.p99 / 1000, 2)} | ` +
        `${spans === undefined ? '' : `${spans.commandSpans} of ${completed.get(side.name) ?? 0} (${spans.exports} requests)`} |`,
    );
  }
  for (const { name } of traced) {
    const delta = median(deltas(name));
    console.log(
      `\n${name}: target at most ${fmt(TARGET_US)} µs per command (1 % of one core at ${RATE}/s): ` +
        `${delta <= TARGET_US ? 'met' : 'NOT met'}; per-round − off, µs: ${deltas(name)
          .map((d) => fmt(d))
          .join(', ')}`,
    );
  }
  console.log(
    `\ncommands: ${sides
      .map(
        (side) =>
          `${side.name} ${sum(side.name, 'commands')} ok, ${sum(side.name, 'failed')} failed, ${sum(side.name, 'skipped')} skipped`,
      )
      .join('; ')}`,
  );
}

await main();

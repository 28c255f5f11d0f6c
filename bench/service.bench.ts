/**
 * Service bench: the device service end to end, against the simulator over
 * TCP on 127.0.0.1, with the default timings unless a measure says otherwise.
 *
 *   npm run build && node dist/bench/service.bench.js
 *
 * 1. Start to Synchronized: `tether run` as a real process, from spawn to the
 *    log line of the phase change into Synchronized.
 * 2. Silent controller noticed: the simulator stops answering right after
 *    Synchronized, with no other traffic; time until Disconnected (default
 *    watchdog: idle 5 s, NONE timeout 3 s).
 * 3. Back to Synchronized once the controller answers again, (a) at the
 *    moment of Disconnected and (b) later, while the service waits on the
 *    link it reconnected (a silent controller still accepts TCP
 *    connections; the retry is immediate after a good link, 2 s later after
 *    one Synchronized for less than connection.retry.resetAfterMs).
 * 4. BLOCK_READ through the commander, sequential and 100 in flight, each
 *    against a plain TCP client that sends the same frames to the same
 *    simulator on its own connection, in interleaved rounds.
 *
 * Prints a Markdown table; docs/performance.md records a run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { CommanderApi } from '../contracts/actors.js';
import { ResponseDecoder, encodeRequest } from '../protocol/index.js';
import type { Block, ResponseFrame } from '../protocol/index.js';
import { resolveConfig } from '../config/index.js';
import type { PhaseChange } from '../kernel/kernel.js';
import type { PhaseName } from '../contracts/phase.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { interleaved, median, sequential, summarize, throughput } from './measure.js';

const CLI = fileURLToPath(new URL('../cli/tether.js', import.meta.url));

const START_RUNS = 7;
const SILENT_RUNS = 3;
/** Extra samples of case 3b, the link dropped by the simulator instead of found silent (8 s saved each). */
const LATE_ANSWER_RUNS = 8;
const SEQUENTIAL_CALLS = 600;
const IN_FLIGHT = 100;
const IN_FLIGHT_CALLS = 6000;
/** Rounds per side; the load of a shared machine swings within seconds, so many short ones. */
const ROUNDS = 9;

// ------------------------------------------------------------------ helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms`; the timer does not hold the process. */
function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------- 1. start to Synchronized

interface StartRun {
  /** ms from spawn to the Synchronized line arriving here. */
  synchronizedMs: number;
  /** ms from spawn to each milestone, by the child's own log timestamps (1 ms resolution). */
  milestones: Record<string, number>;
  stopMs: number;
  exitCode: number | null;
}

/** Spawns `tether run` against the simulator; resolves once it has been stopped with SIGTERM. */
async function startToSynchronized(simPort: number): Promise<StartRun> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-bench-'));
  try {
    const args = [
      CLI,
      'run',
      '--discovery',
      'tcp',
      '--tcp',
      `127.0.0.1:${simPort}`,
      '--state-dir',
      stateDir,
      '--log-level',
      'info',
    ];
    const spawnedAt = Date.now();
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const milestones: Record<string, number> = {};
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const synchronized = new Promise<number>((resolve, reject) => {
      let partial = '';
      child.stdout.on('data', (chunk: Buffer) => {
        const arrivedAt = performance.now();
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          let entry: Record<string, unknown>;
          try {
            entry = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          const at = typeof entry['time'] === 'number' ? entry['time'] - spawnedAt : NaN;
          if (entry['msg'] === 'tether starting') milestones['configuration loaded'] ??= at;
          if (entry['msg'] === 'supervision tree up') milestones['supervision tree up'] ??= at;
          if (entry['event'] === 'child-started' && typeof entry['child'] === 'string') {
            milestones[`${entry['child']} started`] ??= at;
          }
          if (entry['event'] === 'phase' && typeof entry['to'] === 'string') {
            milestones[entry['to']] ??= at;
            if (entry['to'] === 'Synchronized') resolve(arrivedAt - started);
          }
        }
      });
      void exited.then((code) => reject(new Error(`tether run exited (${code}) first:\n${stderr}`)));
    });
    let synchronizedMs: number;
    try {
      synchronizedMs = await deadline(synchronized, 30_000, 'tether run to Synchronized');
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      throw error;
    }
    const stopAsked = performance.now();
    child.kill('SIGTERM');
    const exitCode = await deadline(exited, 15_000, 'tether run exit after SIGTERM').catch(async (error) => {
      child.kill('SIGKILL');
      await exited;
      throw error;
    });
    return { synchronizedMs, milestones, stopMs: performance.now() - stopAsked, exitCode };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Plain Node, for scale: spawn to the first byte of `node -e` on stdout. */
async function bareNodeStart(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("x")'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const firstByte = await new Promise<number>((resolve) =>
    child.stdout.once('data', () => resolve(performance.now())),
  );
  await exited;
  return firstByte - started;
}

// ------------------------------------------------------- in-process service

/** Phase changes with the instant (performance.now()) the kernel made each. */
class Phases {
  readonly changes: Array<{ change: PhaseChange; at: number }> = [];
  readonly #waiters = new Set<() => void>();

  constructor(service: Service) {
    service.kernel.onPhaseChange((change) => {
      this.changes.push({ change, at: performance.now() });
      for (const wake of [...this.#waiters]) wake();
    });
  }

  get current(): PhaseName | undefined {
    return this.changes.at(-1)?.change.to.name;
  }

  mark(): number {
    return this.changes.length;
  }

  /** The first change into `phase` after change number `after`. */
  waitFor(phase: PhaseName, after: number, timeoutMs = 30_000): Promise<{ change: PhaseChange; at: number }> {
    const found = new Promise<{ change: PhaseChange; at: number }>((resolve) => {
      const check = (): void => {
        const hit = this.changes.slice(after).find((c) => c.change.to.name === phase);
        if (hit === undefined) return;
        this.#waiters.delete(check);
        resolve(hit);
      };
      this.#waiters.add(check);
      check();
    });
    return deadline(found, timeoutMs, `phase ${phase}`);
  }

  /** What happened from change number `from` on, as `Phase +ms` relative to `origin`. */
  story(from: number, origin: number): string {
    return this.changes
      .slice(from)
      .map(({ change, at }) => `${change.to.name} +${(at - origin).toFixed(0)}`)
      .join(', ');
  }
}

async function startInProcess(
  sim: Simulator,
  stateDir: string,
): Promise<{ service: Service; phases: Phases }> {
  // The production log level, written nowhere: the cost of logging stays in, the noise does not.
  const logger = pino(
    { level: 'info' },
    new Writable({
      write: (_chunk, _encoding, done) => done(),
    }),
  );
  const config = resolveConfig({
    env: {},
    overrides: {
      discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port: sim.address?.port ?? 0 } },
      stateDir,
      log: { level: 'info' },
    },
  }).config;
  const service = await startService(config, { logger, env: {}, inContainer: false });
  const phases = new Phases(service);
  // The service may have moved while it started.
  for (const change of service.kernel.history()) phases.changes.push({ change, at: performance.now() });
  return { service, phases };
}

// ---------------------------------------------------- plain client (raw side)

/** The same frames as the commander sends, on a connection of its own, matched by msgId. */
class PlainClient {
  readonly #socket: net.Socket;
  readonly #pending = new Map<
    number,
    { resolve: (frame: ResponseFrame) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new ResponseDecoder((out) => {
      if (out.kind !== 'frame') return; // the handshake on connect, logs
      const waiter = this.#pending.get(out.frame.msgId);
      if (waiter === undefined) return;
      this.#pending.delete(out.frame.msgId);
      if (out.frame.error === 'OK') waiter.resolve(out.frame);
      else waiter.reject(new Error(`controller answered ${out.frame.error}`));
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  static async connect(port: number): Promise<PlainClient> {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new PlainClient(socket);
  }

  blockRead(id: number): Promise<ResponseFrame> {
    let msgId: number;
    do {
      this.#nextId = (this.#nextId % 65535) + 1;
      msgId = this.#nextId;
    } while (this.#pending.has(msgId));
    return new Promise((resolve, reject) => {
      this.#pending.set(msgId, { resolve, reject });
      this.#socket.write(encodeRequest({ msgId, opcode: 'BLOCK_READ', payload: { id } }));
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

// ------------------------------------------------------------------- bench

interface Row {
  what: string;
  tether: string;
  raw: string;
  ratio: string;
  target: string;
  met: boolean | undefined;
}

const ms = (value: number): string => value.toFixed(0);

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const sim = await startSimulator({ port: 0 });
  const simPort = sim.address?.port ?? 0;
  const benchStarted = performance.now();

  // 1. Start to Synchronized, as a process.
  const bare: number[] = [];
  for (let i = 0; i < 3; i += 1) bare.push(await bareNodeStart());
  const starts: StartRun[] = [];
  for (let i = 0; i < START_RUNS; i += 1) starts.push(await startToSynchronized(simPort));
  const start = summarize(starts.map((r) => r.synchronizedMs));
  rows.push({
    what: `start → Synchronized, \`tether run\` process (ms, median / max of ${START_RUNS})`,
    tether: `${ms(start.p50)} / ${ms(start.max)}`,
    raw: `${ms(median(bare))} (bare \`node -e\`)`,
    ratio: '-',
    target: '< 1.5 s',
    met: start.max < 1500,
  });
  const milestoneNames = [
    'configuration loaded',
    'connection started',
    'Connected',
    'commander started',
    'synchronization started',
    'Acknowledged',
    'Synchronized',
    'watchdog started',
    'supervision tree up',
  ];
  notes.push(
    `start milestones, median ms from spawn by the child's log clock: ${milestoneNames
      .map((name) => `${name} ${ms(median(starts.map((r) => r.milestones[name] ?? NaN)))}`)
      .join(', ')}`,
    `start runs (ms): ${starts.map((r) => ms(r.synchronizedMs)).join(', ')}; stop after SIGTERM: median ${ms(
      median(starts.map((r) => r.stopMs)),
    )} ms, exit codes ${[...new Set(starts.map((r) => r.exitCode))].join(', ')}`,
  );

  // 2 and 3a. Silent controller, default watchdog; then it answers again at Disconnected.
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-bench-'));
  const { service, phases } = await startInProcess(sim, stateDir);
  let client: PlainClient | undefined;
  try {
    await phases.waitFor('Synchronized', 0);
    const noticed: number[] = [];
    const backAtOnce: number[] = [];
    for (let i = 0; i < SILENT_RUNS; i += 1) {
      // Right after Synchronized (the previous cycle ended there), nothing else on the link.
      const mark = phases.mark();
      sim.faults.silent = true;
      const silencedAt = performance.now();
      const down = await phases.waitFor('Disconnected', mark, 20_000);
      noticed.push(down.at - silencedAt);
      const answerMark = phases.mark();
      sim.faults.silent = false;
      const answeredAt = performance.now();
      const up = await phases.waitFor('Synchronized', answerMark, 20_000);
      backAtOnce.push(up.at - answeredAt);
      notes.push(
        `silent run ${i + 1}: Disconnected after ${ms(down.at - silencedAt)} ms (${down.change.reason}); ` +
          `answering again at once: ${phases.story(answerMark, answeredAt)}`,
      );
    }
    const silent = summarize(noticed);
    const bound = service.config.watchdog.idleMs + service.config.watchdog.timeoutMs;
    rows.push({
      what: `silent controller → Disconnected, default watchdog (ms, median / max of ${SILENT_RUNS})`,
      tether: `${ms(silent.p50)} / ${ms(silent.max)} (idle + timeout ${silent.max > bound ? '+' : ''}${ms(silent.max - bound)})`,
      raw: '-',
      ratio: '-',
      target: '≤ 8 s',
      met: silent.max <= 8000,
    });
    const atOnce = summarize(backAtOnce);
    rows.push({
      what: `answers again at Disconnected → Synchronized (ms, median / max of ${SILENT_RUNS})`,
      tether: `${ms(atOnce.p50)} / ${ms(atOnce.max)}`,
      raw: '-',
      ratio: '-',
      target: '≤ 1 s',
      met: atOnce.max <= 1000,
    });

    // 3b. The controller answers again later, while the service waits on the link it
    // reconnected to the silent controller. The simulator drops the link to get there
    // (the same state as after the watchdog's Disconnected, 8 s sooner).
    const late: number[] = [];
    for (let i = 0; i < LATE_ANSWER_RUNS; i += 1) {
      const mark = phases.mark();
      sim.faults.silent = true;
      sim.faults.drop();
      await phases.waitFor('Disconnected', mark, 10_000);
      await phases.waitFor('Connected', mark, 10_000);
      // Spread over the handshake ping period (2 s by default) so every point of it is sampled.
      await sleep(300 + (i * 2000) / LATE_ANSWER_RUNS);
      const answerMark = phases.mark();
      sim.faults.silent = false;
      const answeredAt = performance.now();
      const up = await phases.waitFor('Synchronized', answerMark, 20_000);
      late.push(up.at - answeredAt);
      notes.push(`late answer run ${i + 1}: ${phases.story(answerMark, answeredAt)}`);
    }
    const lateStats = summarize(late);
    rows.push({
      what: `answers again on the reconnected link → Synchronized (ms, median / max of ${LATE_ANSWER_RUNS})`,
      tether: `${ms(lateStats.p50)} / ${ms(lateStats.max)}`,
      raw: '-',
      ratio: '-',
      target: '≤ 1 s',
      met: lateStats.max <= 1000,
    });

    // 4. Commands: BLOCK_READ through the commander against a plain TCP client.
    const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
    const created = (await commander.call('request', 'BLOCK_CREATE', {
      type: 'TempSensor',
      data: { value: 20.5 },
    })) as Block;
    const blockId = created.id;
    client = await PlainClient.connect(simPort);
    const plain = client;
    const viaCommander = (): Promise<unknown> => commander.call('request', 'BLOCK_READ', { id: blockId });
    const viaPlain = (): Promise<unknown> => plain.blockRead(blockId);

    const [tetherSeq, plainSeq] = await interleaved(
      ROUNDS,
      () => sequential(viaCommander, SEQUENTIAL_CALLS),
      () => sequential(viaPlain, SEQUENTIAL_CALLS),
    );
    const t = summarize(tetherSeq);
    const p = summarize(plainSeq);
    const rate = (samples: number[]): number => 1e6 / (samples.reduce((a, b) => a + b, 0) / samples.length);
    rows.push(
      {
        what: 'BLOCK_READ sequential p50 (µs)',
        tether: t.p50.toFixed(0),
        raw: p.p50.toFixed(0),
        ratio: `${(t.p50 / p.p50).toFixed(2)}x`,
        target: '(reported)',
        met: undefined,
      },
      {
        what: 'BLOCK_READ sequential p99 (µs)',
        tether: t.p99.toFixed(0),
        raw: p.p99.toFixed(0),
        ratio: `${(t.p99 / p.p99).toFixed(2)}x`,
        target: '(reported)',
        met: undefined,
      },
      {
        what: 'BLOCK_READ sequential (ops/s)',
        tether: rate(tetherSeq).toFixed(0),
        raw: rate(plainSeq).toFixed(0),
        ratio: `${(rate(tetherSeq) / rate(plainSeq)).toFixed(2)}x`,
        target: '(reported)',
        met: undefined,
      },
    );

    const [tetherRates, plainRates] = await interleaved(
      ROUNDS,
      async () => [await throughput(viaCommander, IN_FLIGHT_CALLS, IN_FLIGHT)],
      async () => [await throughput(viaPlain, IN_FLIGHT_CALLS, IN_FLIGHT)],
    );
    const tRate = median(tetherRates);
    const pRate = median(plainRates);
    // The ratio of each round's pair (run back to back), then the median: steadier than a ratio of medians.
    const pairRatios = tetherRates.map((r, i) => r / (plainRates[i] ?? NaN));
    const ratio = median(pairRatios);
    rows.push({
      what: `BLOCK_READ, ${IN_FLIGHT} in flight (ops/s, median of ${ROUNDS} rounds; ratio: median of round pairs)`,
      tether: tRate.toFixed(0),
      raw: pRate.toFixed(0),
      ratio: `${ratio.toFixed(2)}x`,
      target: '≥ 0.5x plain client',
      met: ratio >= 0.5,
    });
    notes.push(
      `100 in flight, per round (ops/s): tether ${tetherRates.map((r) => r.toFixed(0)).join(', ')}; ` +
        `plain ${plainRates.map((r) => r.toFixed(0)).join(', ')}; ratios ${pairRatios.map((r) => r.toFixed(2)).join(', ')}`,
    );
    const status = (await commander.call('status')) as { timedOut: number; lateResponses: number };
    notes.push(
      `commander after the bench: ${status.timedOut} timed out (the watchdog's NONEs to the silent controller), ` +
        `${status.lateResponses} late responses`,
    );
  } finally {
    client?.close();
    await service.stop();
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }

  console.log(`\n## Service bench — ${new Date().toISOString()}`);
  console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'})\n`);
  console.log('| measure | tether | plain | ratio | target | met |');
  console.log('|---|---:|---:|---:|---|---|');
  for (const row of rows) {
    const met = row.met === undefined ? '' : row.met ? 'yes' : 'NO';
    console.log(`| ${row.what} | ${row.tether} | ${row.raw} | ${row.ratio} | ${row.target} | ${met} |`);
  }
  console.log('');
  for (const note of notes) console.log(`- ${note}`);
  console.log(`\nbench took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s`);
}

await main();

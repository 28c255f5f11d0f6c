/**
 * Tasks bench: the real service (actors in worker threads, the piscina
 * pool) against the simulator over TCP on 127.0.0.1, the simulator in a
 * worker thread of its own so that its work is not counted as the main
 * thread's.
 *
 *   npm run build && node --expose-gc dist/bench/tasks.bench.js
 *
 * 1. The main thread's event-loop delay (perf_hooks.monitorEventLoopDelay,
 *    1 ms resolution) while a 2,000-block restore runs, against the same
 *    service idle. The restore's controller work runs in the main thread
 *    (it only awaits the commander); the target is p99 <= 5 ms.
 * 2. The same while a 20 MB backup is validated on the pool.
 * 3. Abort latency: from DELETE-equivalent (tracker.abort) to ABORTED, for a
 *    running restore (it stops between blocks) and a running validation on
 *    the pool (its worker is stopped). Target <= 1 s.
 * 4. Tasks per second through the tracker for trivial tasks (a job that
 *    returns at once), without and with the journal on disk.
 *
 * Prints a Markdown table; docs/performance.md records a run.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { resolveConfig } from '../config/index.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { SIM_IDENTITY } from '../sim/index.js';
import { CommandTracker, FileTaskJournal, LocalExecutor, NOT_FOUND } from '../tasks/index.js';
import type { TaskKindSpec, TaskView } from '../tasks/index.js';
import { summarize } from './measure.js';

const RESTORE_BLOCKS = 2000;
const BIG_BACKUP_BYTES = 20 * 1024 * 1024;
const ABORT_RUNS = 5;
const TRIVIAL_TASKS = 20_000;

// ------------------------------------------------------------------ helpers

function backupText(count: number, pad: number): string {
  const header = {
    format: 'tether-backup',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    device: { ...SIM_IDENTITY },
    blockCount: count,
  };
  const lines = Array.from({ length: count }, (_, n) =>
    JSON.stringify({
      id: 100 + (n % 65_000),
      name: `sensor-${n}`,
      type: 'TempSensor',
      data: { value: n, offset: 0.5, enabled: true, ...(pad > 0 ? { note: 'x'.repeat(pad) } : {}) },
    }),
  );
  return `${JSON.stringify(header).slice(0, -1)},"blocks":[\n${lines.join(',\n')}\n]}\n`;
}

function waitFor(
  service: Service,
  id: string,
  done: (task: TaskView) => boolean,
  ms = 600_000,
): Promise<TaskView> {
  const { tracker } = service.tasks;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const task = tracker.get(id);
      if (task === NOT_FOUND || !done(task)) return;
      clearTimeout(timer);
      stop();
      resolve(task);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`task ${id}: not within ${ms} ms (${JSON.stringify(tracker.get(id))})`));
    }, ms);
    const stop = tracker.subscribe(check);
    check();
  });
}

const ended = (task: TaskView): boolean =>
  ['COMPLETED', 'FAILED', 'ABORTED', 'REJECTED'].includes(task.status);

interface Monitored<T> {
  value: T;
  ms: number;
  /** Event-loop delay percentiles (ms). */
  p50: number;
  p99: number;
  max: number;
  /** Event-loop utilization of the main thread: the share of the time it was busy (0..1). */
  elu: number;
}

/**
 * Runs `work` with the event-loop delay histogram on. The bench's own
 * garbage (the files it made) is collected first when --expose-gc allows,
 * so a pause for it is not counted against the work.
 */
async function underMonitor<T>(work: () => Promise<T>): Promise<Monitored<T>> {
  (globalThis as { gc?: () => void }).gc?.();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const before = performance.eventLoopUtilization();
  histogram.enable();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  histogram.disable();
  const elu = performance.eventLoopUtilization(before).utilization;
  return {
    value,
    ms,
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    max: histogram.max / 1e6,
    elu,
  };
}

const delays = (m: Monitored<unknown>): string =>
  `p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, max ${m.max.toFixed(1)} ms; main thread busy ${(m.elu * 100).toFixed(0)} %`;

async function withService<T>(body: (service: Service) => Promise<T>): Promise<T> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-tasks-bench-'));
  // In a thread of its own: the controller's work is not the service's.
  const sim = new Worker(new URL('./fixtures/sim-worker.js', import.meta.url), {
    workerData: { capacity: RESTORE_BLOCKS + 100 },
  });
  const [{ port }] = (await once(sim, 'message')) as [{ port: number }];
  const config = resolveConfig({
    env: {},
    overrides: {
      discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port } },
      stateDir,
      log: { level: 'warn' },
      // TASKS_BENCH_NICE=0 measures the pool without its lowered priority (the default is 10).
      tasks: {
        backup: { maxBytes: 64 * 1024 * 1024 },
        ...(process.env['TASKS_BENCH_NICE'] === undefined
          ? {}
          : { pool: { niceIncrement: Number(process.env['TASKS_BENCH_NICE']) } }),
      },
    },
  }).config;
  const service = await startService(config, { logger: pino({ level: 'silent' }), inContainer: false });
  try {
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (service.kernel.state.phase.name === 'Synchronized') resolve();
      };
      service.kernel.onPhaseChange(check);
      check();
    });
    await mkdir(join(stateDir, 'backups'), { recursive: true });
    return await body(service);
  } finally {
    await service.stop();
    sim.postMessage('close');
    await once(sim, 'exit');
    await rm(stateDir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------- cases

interface Row {
  what: string;
  figure: string;
}

async function loopDelay(service: Service, rows: Row[]): Promise<void> {
  const backups = join(service.config.stateDir, 'backups');
  await writeFile(join(backups, 'restore.json'), backupText(RESTORE_BLOCKS, 0));
  const idle = await underMonitor(() => new Promise((resolve) => setTimeout(resolve, 3000)));
  rows.push({
    what: 'event-loop delay, service idle (3 s)',
    figure: delays(idle),
  });
  for (let run = 1; run <= 2; run++) {
    const restore = await underMonitor(async () => {
      const task = service.tasks.tracker.submit('backup.load', { name: 'restore.json' });
      return waitFor(service, task.id, ended);
    });
    const result = restore.value.result as { written: number };
    rows.push({
      what: `event-loop delay during a ${RESTORE_BLOCKS}-block restore (run ${run})`,
      figure:
        `${delays(restore)}; ` +
        `${restore.value.status}, ${result.written} blocks in ${(restore.ms / 1000).toFixed(1)} s ` +
        `(${Math.round(result.written / (restore.ms / 1000))} blocks/s)`,
    });
  }
  const big = backupText(Math.ceil(BIG_BACKUP_BYTES / 1100), 1000);
  await writeFile(join(backups, 'big.json'), big);
  for (let run = 1; run <= 2; run++) {
    const validate = await underMonitor(async () => {
      const task = service.tasks.tracker.submit('backup.validate', { name: 'big.json', force: true });
      return waitFor(service, task.id, ended);
    });
    rows.push({
      what: `event-loop delay while a ${(big.length / 1024 / 1024).toFixed(0)} MB backup is validated on the pool (run ${run})`,
      figure: `${delays(validate)}; ` + `${validate.value.status} in ${(validate.ms / 1000).toFixed(2)} s`,
    });
  }
}

async function abortLatency(service: Service, rows: Row[]): Promise<void> {
  const { tracker } = service.tasks;
  const restore: number[] = [];
  for (let run = 0; run < ABORT_RUNS; run++) {
    const task = tracker.submit('backup.load', { name: 'restore.json' });
    await waitFor(service, task.id, (t) => t.progress.percent >= 30 || ended(t));
    const asked = performance.now();
    tracker.abort(task.id);
    const done = await waitFor(service, task.id, ended);
    if (done.status !== 'ABORTED') throw new Error(`restore ended ${done.status}`);
    restore.push(performance.now() - asked);
  }
  const pool: number[] = [];
  for (let run = 0; run < ABORT_RUNS; run++) {
    const task = tracker.submit('backup.validate', { name: 'big.json', force: true });
    await waitFor(service, task.id, (t) => t.progress.percent >= 20 || ended(t));
    const asked = performance.now();
    tracker.abort(task.id);
    const done = await waitFor(service, task.id, ended);
    if (done.status !== 'ABORTED') throw new Error(`validation ended ${done.status}`);
    pool.push(performance.now() - asked);
  }
  const show = (samples: number[]): string => {
    const { p50, max } = summarize(samples);
    return `median ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms (${samples.length} runs)`;
  };
  rows.push({ what: 'abort of a running restore to ABORTED (stops between blocks)', figure: show(restore) });
  rows.push({
    what: 'abort of a running validation on the pool to ABORTED (worker stopped)',
    figure: show(pool),
  });
}

async function trackerThroughput(rows: Row[]): Promise<void> {
  const executor = new LocalExecutor({ trivial: async () => null }, { concurrency: 1 });
  const kinds: TaskKindSpec[] = [
    { kind: 'trivial', executor, exclusive: false, timeoutMs: 60_000, parseArgs: (a) => a },
  ];
  for (const withJournal of [false, true]) {
    const dir = await mkdtemp(join(tmpdir(), 'tether-tracker-bench-'));
    const journal = withJournal ? new FileTaskJournal(dir) : undefined;
    const tracker = new CommandTracker({
      kinds,
      maxQueued: 1000,
      retainCount: 1000,
      ...(journal === undefined ? {} : { journal }),
    });
    let finished = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((resolve) => (resolveAll = resolve));
    tracker.subscribe(({ change, task }) => {
      if (change === 'status' && task.status === 'COMPLETED' && ++finished === TRIVIAL_TASKS) resolveAll();
    });
    const started = performance.now();
    let submitted = 0;
    // As fast as the queue bound lets: submit up to the bound, then yield so the executor drains it.
    while (submitted < TRIVIAL_TASKS) {
      while (submitted < TRIVIAL_TASKS && tracker.submit('trivial', null).status === 'QUEUED') submitted++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await all;
    const seconds = (performance.now() - started) / 1000;
    await tracker.close(100);
    await journal?.flush();
    await rm(dir, { recursive: true, force: true });
    rows.push({
      what: `trivial tasks through the tracker, ${withJournal ? 'journal on disk' : 'no journal'}`,
      figure: `${Math.round(TRIVIAL_TASKS / seconds).toLocaleString('en')} tasks/s (${TRIVIAL_TASKS} tasks, submit to COMPLETED)`,
    });
  }
}

// ------------------------------------------------------------------- main

const rows: Row[] = [];
await withService(async (service) => {
  await loopDelay(service, rows);
  await abortLatency(service, rows);
});
await trackerThroughput(rows);
console.log(
  `\nNode ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString().slice(0, 10)}\n`,
);
console.log('| measure | result |\n|---|---|');
for (const row of rows) console.log(`| ${row.what} | ${row.figure} |`);

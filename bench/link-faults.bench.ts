/**
 * Link faults bench: the device service in process, every timing at its
 * default, against the simulator over TCP on 127.0.0.1.
 *
 *   npm run build && node dist/bench/link-faults.bench.js
 *
 * 1. Listening mode: the controller announces `<!SETUP_MODE>`, then greets
 *    new connections but answers nothing, for a while; then it leaves.
 *    Measured: from leaving to Synchronized (target 3 s), and what the
 *    service did meanwhile (links opened, log lines at info and above). The
 *    listening periods end at points spread over the wait before
 *    reconnecting (2 s) and the handshake ping period (2 s) of the held
 *    link, plus one long period to show that nothing grows.
 * 2. A controller that breaks every link (BUSY to the clock write): links
 *    opened and log lines per minute.
 *
 * Prints a Markdown table; docs/performance.md records a run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { resolveConfig } from '../config/index.js';
import type { PhaseChange } from '../contracts/phase.js';
import type { PhaseName } from '../contracts/phase.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { summarize } from './measure.js';

/** Listening periods (ms): ends spread over the 2 s wait and two 2 s ping periods, and one long one. */
const LISTENING_MS = [500, 1200, 1900, 2600, 3300, 4000, 4700, 5400, 6100, 40_000];
const BUSY_WATCH_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Phase changes with the instant (performance.now()) each arrived, and log lines at info and above. */
class Watch {
  readonly changes: Array<{ change: PhaseChange; at: number }> = [];
  lines = 0;
  readonly #waiters = new Set<() => void>();

  follow(service: Service): void {
    for (const change of service.kernel.history()) this.changes.push({ change, at: performance.now() });
    service.kernel.onPhaseChange((change) => {
      this.changes.push({ change, at: performance.now() });
      for (const wake of [...this.#waiters]) wake();
    });
  }

  mark(): number {
    return this.changes.length;
  }

  count(phase: PhaseName, from: number): number {
    return this.changes.slice(from).filter((c) => c.change.to.name === phase).length;
  }

  waitFor(phase: PhaseName, after: number, timeoutMs = 120_000): Promise<{ at: number }> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.changes.slice(after).find((c) => c.change.to.name === phase);
        if (hit === undefined) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no ${phase} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}

async function withService<T>(
  sim: Simulator,
  body: (service: Service, watch: Watch) => Promise<T>,
): Promise<T> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-bench-'));
  const watch = new Watch();
  // The production level; lines are counted, not written.
  const logger = pino(
    { level: 'info' },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        watch.lines += chunk
          .toString()
          .split('\n')
          .filter((line) => line !== '').length;
        done();
      },
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
  watch.follow(service);
  try {
    return await body(service, watch);
  } finally {
    await service.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

const ms = (value: number): string => value.toFixed(0);

async function main(): Promise<void> {
  const started = performance.now();
  const rows: string[][] = [];
  const notes: string[] = [];

  // 1. Listening mode.
  const sim = await startSimulator({ port: 0 });
  try {
    await withService(sim, async (_service, watch) => {
      await watch.waitFor('Synchronized', 0);
      const recoveries: number[] = [];
      const episodeLines: number[] = [];
      const episodeLinks: number[] = [];
      for (const listeningMs of LISTENING_MS) {
        // Synchronized and settled, as a controller is before someone holds its setup button.
        await sleep(1000);
        const mark = watch.mark();
        const linesBefore = watch.lines;
        sim.faults.enterSetupMode();
        await sleep(listeningMs);
        const leaveMark = watch.mark();
        sim.faults.leaveSetupMode();
        const leftAt = performance.now();
        const up = await watch.waitFor('Synchronized', leaveMark);
        recoveries.push(up.at - leftAt);
        const opened = watch.count('Connected', mark) - watch.count('Connected', leaveMark);
        // Once Synchronized again, the lines of the episode are all written.
        const lines = watch.lines - linesBefore;
        episodeLinks.push(opened);
        episodeLines.push(lines);
        notes.push(
          `listening ${ms(listeningMs)} ms: ${opened} links opened meanwhile, ${lines} log lines; ` +
            `Synchronized ${ms(up.at - leftAt)} ms after it ended`,
        );
      }
      const back = summarize(recoveries);
      rows.push(
        [
          `leaves listening mode → Synchronized (ms, median / max of ${LISTENING_MS.length})`,
          `${ms(back.p50)} / ${ms(back.max)}`,
          '≤ 3 s',
          back.max <= 3000 ? 'yes' : 'NO',
        ],
        [
          'links opened while in listening mode, per episode (median / max)',
          `${summarize(episodeLinks).p50} / ${summarize(episodeLinks).max}`,
          '(reported)',
          '',
        ],
        [
          'log lines (info and above) per listening episode, its start and the recovery included (median / max)',
          `${summarize(episodeLines).p50} / ${summarize(episodeLines).max}`,
          '(reported)',
          '',
        ],
      );
    });
  } finally {
    await sim.close();
  }

  // 2. A controller that answers BUSY to the clock write: every link fails its first sync step.
  const busy = await startSimulator({ port: 0, faults: { busyOpcodes: ['BLOCK_WRITE'] } });
  try {
    await withService(busy, async (_service, watch) => {
      await watch.waitFor('Connected', 0);
      const mark = watch.mark();
      const linesBefore = watch.lines;
      await sleep(BUSY_WATCH_MS);
      const links = watch.count('Connected', mark);
      const lines = watch.lines - linesBefore;
      const gaps = watch.changes
        .slice(mark)
        .filter((c) => c.change.to.name === 'Connected')
        .map((c, i, all) => (i === 0 ? NaN : c.at - all[i - 1]!.at))
        .filter((gap) => !Number.isNaN(gap));
      rows.push(
        [`BUSY to every sync: links opened in ${BUSY_WATCH_MS / 1000} s`, `${links}`, '(reported)', ''],
        [
          `BUSY to every sync: log lines (info and above) in ${BUSY_WATCH_MS / 1000} s`,
          `${lines}`,
          '(reported)',
          '',
        ],
      );
      notes.push(`BUSY: ms between links: ${gaps.map(ms).join(', ')}`);
    });
  } finally {
    await busy.close();
  }

  console.log(`\n## Link faults bench — ${new Date().toISOString()}`);
  console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'})\n`);
  console.log('| measure | tether | target | met |');
  console.log('|---|---:|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
  for (const note of notes) console.log(`- ${note}`);
  console.log(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();

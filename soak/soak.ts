/**
 * `npm run soak -- --minutes N`: the device service under a command load
 * and random faults from both sides, with its invariants checked live.
 *
 * The service is a real `tether run` process (as users run it), talking
 * TCP to the simulator, which runs here so its faults are at hand. The
 * service's drill routes (http.drills) are on, so actors can be made to
 * crash, hang and run out of memory from outside, through the API.
 *
 * Invariants, any one broken makes the run fail (exit 1):
 * - only legal phase transitions, generations never going back (the event stream);
 * - every HTTP request answered by its deadline, with a status its route may give, never a 500;
 * - after every fault, Synchronized again with every child running within 5 s of the
 *   fault being over (plus any backoff a supervisor announced: planned waiting);
 * - a hung actor noticed by its heartbeat, a crashed one seen exiting;
 * - no worker or handle leaked: at the end, as many workers and main-thread handles as
 *   before the first fault, one connection at the simulator;
 * - RSS growth bounded;
 * - the service never logs an unexpected error, and SIGTERM ends it with exit 0.
 *
 * The service runs with shorter link timings than the defaults (reconnect
 * backoff up to 2 s rather than 30 s, commands and the watchdog in
 * seconds), so that "within 5 s" measures recovery rather than configured
 * waiting. See docs/reliability.md.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { applyControlLine } from '../sim/index.js';
import type { ResourcesView } from '../http/drills.js';
import type { TreeNodeView, TreeView } from '../http/views.js';
import { ApiClient } from './client.js';
import { EventWatch } from './events.js';
import { CONTROLLER_FAULTS, PROBE_LINES, SERVICE_FAULTS } from './faults.js';
import type { ActiveFault, Fault, FaultContext } from './faults.js';
import { Ledger, summaryText } from './ledger.js';
import type { SummaryFacts } from './ledger.js';
import { Load } from './load.js';
import { Random } from './random.js';
import { ServiceProcess } from './service.js';

export interface SoakOptions {
  minutes: number;
  seed: number;
  /** HTTP clients sending the command load. */
  clients: number;
  /** Keep the work directory (configuration, state, the service's log) even when every invariant held. */
  keep: boolean;
}

export interface SoakResult {
  ok: boolean;
  summary: string;
  workDir: string;
}

// ------------------------------------------------------------------ bounds

/** The issue's bound: Synchronized again, every child running, this long after the last fault. */
export const RECOVERY_BOUND_MS = 5000;
/** An HTTP request unanswered this long is unanswered (the slowest route answers within about 7 s). */
const REQUEST_DEADLINE_MS = 30_000;
/** Start-up is not what the soak measures: a loaded machine may take this long to the first Synchronized. */
const STARTUP_DEADLINE_MS = 90_000;
/** Crash and oom exits are seen within this; a hang within the heartbeat's interval + timeout and this. */
const EXIT_DEADLINE_MS = 20_000;
const HEARTBEAT = { intervalMs: 1000, timeoutMs: 3000 };
/** RSS at the end may exceed RSS after warm-up by this much (an actor's heap limit is 64 MiB). */
const RSS_GROWTH_BOUND_BYTES = 96 * 1024 * 1024;
/** Workers alive at any sample beyond those at the start: a restart in flight holds a few more, a leak grows. */
const WORKER_SLACK = 6;
/** Main-thread handles of one type at the end beyond those at the start. */
const HANDLE_SLACK = 3;
const SHUTDOWN_DEADLINE_MS = 20_000;
/** How long the worker count must stay the same to be the baseline: twice a first standby's delay. */
const STEADY_WORKERS_MS = 3000;
/** After the last fault, how long the workers, handles and the simulator's connections may take to settle. */
const SETTLE_DEADLINE_MS = 20_000;

// ----------------------------------------------------------------- helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(
  what: string,
  deadlineMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  everyMs = 100,
): Promise<T> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await sleep(everyMs);
  }
}

function allRunning(nodes: readonly TreeNodeView[]): boolean {
  return nodes.every((n) => n.status === 'running' && allRunning(n.children ?? []));
}

function configYaml(simPort: number, stateDir: string, token: string): string {
  return `# written by npm run soak
discovery:
  mode: tcp
  intervalMs: 500
  tcp:
    host: 127.0.0.1
    port: ${simPort}
connection:
  connectTimeoutMs: 2000
  retry:
    initialMs: 250
    factor: 1.5
    maxMs: 2000
synchronization:
  handshakePingMs: 500
  handshakeTimeoutMs: 10000
commander:
  timeoutMs: 5000
watchdog:
  idleMs: 2000
  timeoutMs: 2000
stateDir: ${JSON.stringify(stateDir)}
supervision:
  children:
    connection: { heartbeat: { intervalMs: ${HEARTBEAT.intervalMs}, timeoutMs: ${HEARTBEAT.timeoutMs} } }
    commander: { heartbeat: { intervalMs: ${HEARTBEAT.intervalMs}, timeoutMs: ${HEARTBEAT.timeoutMs} } }
    synchronization: { heartbeat: { intervalMs: ${HEARTBEAT.intervalMs}, timeoutMs: ${HEARTBEAT.timeoutMs} } }
    watchdog: { heartbeat: { intervalMs: ${HEARTBEAT.intervalMs}, timeoutMs: ${HEARTBEAT.timeoutMs} } }
log:
  level: info
  format: json
http:
  host: 127.0.0.1
  port: 0
  token: ${token}
  drills: true
`;
}

/** Log lines that are bugs whatever the faults: the API's unexpected errors, fatal lines, a stopped tree. */
function isBugLine(line: { level?: number; msg?: string }): boolean {
  const msg = line.msg ?? '';
  return (
    (line.level ?? 0) >= 60 ||
    msg.startsWith('HTTP API: unexpected error') ||
    msg.startsWith('the supervision tree stopped') ||
    msg.startsWith('stderr:')
  );
}

// -------------------------------------------------------------------- soak

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const ledger = new Ledger();
  const rng = new Random(options.seed);
  const durationMs = options.minutes * 60_000;
  const loadStart = loadavg();
  const workDir = await mkdtemp(join(tmpdir(), 'tether-soak-'));
  const token = randomBytes(16).toString('hex');
  let sim: Simulator | undefined;
  let service: ServiceProcess | undefined;
  let events: EventWatch | undefined;
  let load: Load | undefined;
  let sampler: NodeJS.Timeout | undefined;
  const facts: SummaryFacts = {
    seed: options.seed,
    minutes: options.minutes,
    node: process.version,
    load: { start: loadStart, end: loadStart },
    rss: { startBytes: 0, endBytes: 0, peakBytes: 0 },
    workers: { start: 0, end: 0, peak: 0 },
    handles: { start: {}, end: {} },
    log: { lines: 0, byLevel: {}, peakPerSecond: 0 },
    transitions: 0,
    generation: 0,
    shutdown: undefined,
  };
  const progress = (text: string): void => {
    const s = ((performance.now() - ledger.startedAt) / 1000).toFixed(0);
    process.stdout.write(`soak ${s.padStart(5)} s: ${text}\n`);
  };

  try {
    sim = await startSimulator({ port: 0 });
    const simulator = sim;
    const configFile = join(workDir, 'tether.yaml');
    await writeFile(configFile, configYaml(sim.address?.port ?? 0, join(workDir, 'state'), token));
    service = new ServiceProcess(configFile, join(workDir, 'service.log'), {});
    const proc = service;
    let stopping = false;
    proc.watch((line) => {
      if (isBugLine(line)) ledger.violation(`the service logged: ${line.msg ?? JSON.stringify(line)}`);
    });
    void proc.exited.then(({ code, signal }) => {
      if (!stopping) ledger.violation(`the service exited by itself (${code ?? signal})`);
    });

    const listening = await proc.waitForLine(
      (l) => l.event === 'http-listening',
      STARTUP_DEADLINE_MS,
      'HTTP API',
    );
    const base = String(listening['url']);
    progress(
      `service pid ${proc.pid} on ${base}, simulator on port ${sim.address?.port}, work dir ${workDir}`,
    );
    const driver = new ApiClient({ base, token, deadlineMs: REQUEST_DEADLINE_MS });
    const watch = new EventWatch({ base, token, onViolation: (why) => ledger.violation(why) });
    events = watch;
    await watch.open();
    await until('the first Synchronized', STARTUP_DEADLINE_MS, () =>
      watch.phase === 'Synchronized' ? true : undefined,
    );
    progress('Synchronized');

    const resources = async (): Promise<ResourcesView> => {
      const answer = await driver.request('GET', '/api/drills/resources');
      if (answer.status !== 200) throw new Error(`/api/drills/resources answered ${answer.status}`);
      return answer.json as ResourcesView;
    };
    // Workers settle once every warm standby has loaded: the baseline is the count once it stops
    // changing for STEADY_WORKERS_MS. That is longer than a module's first standby waits to be spawned
    // (1.5 s, runtime/standby.ts): a shorter window took a count from before one was (7, then 8 for
    // the rest of the run, reported as a leak).
    const settledWorkers = async (): Promise<ResourcesView> => {
      let last = await resources();
      let steadySince = performance.now();
      return until('a steady worker count', 30_000, async () => {
        await sleep(500);
        const now = await resources();
        if (now.workers !== last.workers) steadySince = performance.now();
        last = now;
        return performance.now() - steadySince >= STEADY_WORKERS_MS ? now : undefined;
      });
    };
    // Every actor restarted once first: a restart leaves a warm standby behind, which is no leak.
    for (const actor of ['connection', 'commander', 'synchronization', 'watchdog']) {
      const answer = await driver.request('POST', `/api/actors/${actor}/restart`, {});
      if (answer.status !== 200)
        throw new Error(`warm-up restart of ${actor}: ${answer.status} ${answer.code}`);
    }
    await until('Synchronized after the warm-up restarts', STARTUP_DEADLINE_MS, async () => {
      if (watch.phase !== 'Synchronized') return undefined;
      const tree = await driver.request('GET', '/api/tree');
      const view = tree.json as TreeView;
      return view.state === 'running' && allRunning(view.children) ? true : undefined;
    });
    const baseline = await settledWorkers();
    facts.workers.start = baseline.workers;
    facts.workers.peak = baseline.workers;
    facts.handles.start = baseline.handles;

    const sim1 = (line: string): string => applyControlLine(simulator, line);
    const available = (fault: Fault): boolean => {
      const probe = PROBE_LINES[fault.name];
      if (probe === undefined) return true;
      const known = !sim1(probe).startsWith('error: unknown command');
      if (!known) ledger.unavailable.push(fault.name);
      return known;
    };
    const controllerFaults = CONTROLLER_FAULTS.filter(available);
    const serviceFaults = [...SERVICE_FAULTS];

    load = new Load({ base, token, clients: options.clients, deadlineMs: REQUEST_DEADLINE_MS, ledger, rng });
    load.start();
    await sleep(Math.min(10_000, durationMs / 10));
    facts.rss.startBytes = await proc.rssBytes();
    facts.rss.peakBytes = facts.rss.startBytes;
    let samples = 0;
    sampler = setInterval(() => {
      samples += 1;
      void proc.rssBytes().then((rss) => (facts.rss.peakBytes = Math.max(facts.rss.peakBytes, rss)));
      if (samples % 5 !== 0) return;
      void resources().then(
        (view) => {
          facts.workers.peak = Math.max(facts.workers.peak, view.workers);
          if (view.workers > facts.workers.start + WORKER_SLACK) {
            ledger.violation(`${view.workers} workers alive (${facts.workers.start} at the start)`);
          }
        },
        () => undefined,
      );
    }, 1000);

    const ctx: FaultContext = {
      sim: sim1,
      api: driver,
      events: watch,
      rng,
      exitDeadlineMs: EXIT_DEADLINE_MS,
      hangDeadlineMs: HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs + EXIT_DEADLINE_MS,
      violation: (why) => ledger.violation(why),
    };

    /** Synchronized with every child running: when it was first so after `over`, in ms after `over`. */
    const recovery = async (
      over: number,
      since: number,
    ): Promise<{ ms: number; backoffMs: number } | undefined> => {
      const giveUpAt = over + RECOVERY_BOUND_MS + 60_000;
      for (;;) {
        if (!proc.running) return undefined;
        const backoffMs = watch
          .supervisionSince(since)
          .reduce((sum, n) => sum + (n.type === 'backoff' ? (n.delayMs ?? 0) : 0), 0);
        if (watch.phase === 'Synchronized') {
          const tree = await driver.request('GET', '/api/tree');
          const view = tree.json as TreeView;
          if (tree.status === 200 && view.state === 'running' && allRunning(view.children)) {
            const started = watch
              .supervisionSince(since)
              .filter((n) => n.type === 'child-started')
              .map((n) => n.seenAt);
            if (watch.phase === 'Synchronized') {
              const at = Math.max(over, watch.changedAt, ...started);
              return { ms: at - over, backoffMs };
            }
          }
        }
        if (performance.now() > giveUpAt + backoffMs) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 100);
          const off = watch.onChange(done);
          function done(): void {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
      }
    };

    const episode = async (): Promise<boolean> => {
      ledger.episodes += 1;
      const since = performance.now();
      const chosen: Fault[] = [];
      if (rng.chance(0.3)) chosen.push(rng.pick(controllerFaults), rng.pick(serviceFaults));
      else chosen.push(rng.pick(rng.chance(0.5) ? controllerFaults : serviceFaults));
      const active: ActiveFault[] = [];
      for (const fault of chosen) {
        const started = await fault.start(ctx);
        if (started.kind !== undefined) ledger.fault(`${fault.side}: ${started.kind}`);
        active.push(started);
      }
      if (chosen.some((f) => f.lasting)) await sleep(rng.int(300, 4000));
      const over = Math.max(...(await Promise.all(active.map((a) => a.end()))));
      const kinds = active.map((a) => a.kind ?? '(nothing)');
      const recovered = await recovery(over, since);
      if (recovered === undefined) {
        ledger.violation(`not Synchronized with every child running 60 s after: ${kinds.join(' + ')}`);
        return false;
      }
      ledger.recoveries.push({ faults: kinds, ms: recovered.ms, backoffMs: recovered.backoffMs });
      if (recovered.ms > RECOVERY_BOUND_MS + recovered.backoffMs) {
        ledger.violation(
          `Synchronized with every child running only ${Math.round(recovered.ms)} ms after: ${kinds.join(' + ')}` +
            (recovered.backoffMs > 0 ? ` (supervisor backoff ${recovered.backoffMs} ms allowed)` : ''),
        );
      }
      return true;
    };

    const end = ledger.startedAt + durationMs;
    let lastReport = performance.now();
    while (performance.now() < end && proc.running) {
      if (!(await episode())) break;
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        const worst = Math.max(0, ...ledger.recoveries.map((r) => r.ms));
        progress(
          `${ledger.episodes} episodes, ${ledger.requests} requests, worst recovery ${Math.round(worst)} ms, ` +
            `${ledger.violations.length} broken`,
        );
      }
      await sleep(rng.int(200, 2000));
    }

    progress('faults over; stopping the load and checking for leaks');
    await load.stop();
    load = undefined;
    clearInterval(sampler);
    if (proc.running) {
      // Quiet now: within a while the workers are back to the start's count, the handles too, and the
      // simulator has one connection (a restart or a reconnect may still be finishing when the faults end).
      let final = await resources();
      const leaks = (view: ResourcesView): string[] => {
        const found: string[] = [];
        if (view.workers > facts.workers.start) {
          found.push(`${view.workers} workers at the end, ${facts.workers.start} at the start`);
        }
        for (const [type, count] of Object.entries(view.handles)) {
          const before = facts.handles.start[type] ?? 0;
          if (count > before + HANDLE_SLACK)
            found.push(`${count} ${type} handles at the end, ${before} at the start`);
        }
        if (simulator.connections !== 1) {
          found.push(`${simulator.connections} connections at the simulator at the end (expected 1)`);
        }
        return found;
      };
      await until(
        'no leak',
        SETTLE_DEADLINE_MS,
        async () => {
          final = await resources();
          return leaks(final).length === 0 ? true : undefined;
        },
        500,
      ).catch(() => leaks(final).forEach((why) => ledger.violation(why)));
      facts.workers.end = final.workers;
      facts.handles.end = final.handles;
      facts.workers.peak = Math.max(facts.workers.peak, final.workers);
      facts.rss.endBytes = await proc.rssBytes();
      if (facts.rss.endBytes - facts.rss.startBytes > RSS_GROWTH_BOUND_BYTES) {
        ledger.violation(
          `RSS grew by ${((facts.rss.endBytes - facts.rss.startBytes) / 1048576).toFixed(1)} MiB ` +
            `(bound ${RSS_GROWTH_BOUND_BYTES / 1048576} MiB)`,
        );
      }
    }
    facts.transitions = watch.transitions;
    facts.generation = watch.generation;
    stopping = true;
    watch.close();
    events = undefined;
    const stopped = await proc.stop(SHUTDOWN_DEADLINE_MS);
    facts.shutdown = stopped === undefined ? undefined : { code: stopped.code, ms: stopped.ms };
    if (stopped === undefined)
      ledger.violation(`SIGTERM: the service did not exit within ${SHUTDOWN_DEADLINE_MS} ms`);
    else if (stopped.code !== 0) ledger.violation(`SIGTERM: exit ${stopped.code ?? stopped.signal}, not 0`);
  } catch (error) {
    ledger.violation(`the soak could not go on: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearInterval(sampler);
    await load?.stop();
    events?.close();
    if (service !== undefined) {
      service.kill();
      await service.exited;
      facts.log = service.logStats;
    }
    await sim?.close();
  }
  facts.load.end = loadavg();
  const ok = ledger.violations.length === 0;
  const summary = summaryText(ledger, facts);
  if (ok && !options.keep) await rm(workDir, { recursive: true, force: true });
  return {
    ok,
    summary:
      `${summary}\n${ok && !options.keep ? '' : `work dir (config, state, service log): ${workDir}`}`.trimEnd(),
    workDir,
  };
}

// --------------------------------------------------------------------- CLI

function usage(): string {
  return `usage: npm run soak -- [--minutes N] [--seed S] [--clients N] [--keep]
  --minutes N   how long to inject faults (default 30; fractions allowed)
  --seed S      the random choices' seed (default: random, printed)
  --clients N   HTTP clients sending the command load (default 4)
  --keep        keep the work directory (config, state, the service's log) even on success`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      seed: { type: 'string' },
      clients: { type: 'string', default: '4' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const minutes = Number(values.minutes);
  const clients = Number(values.clients);
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  if (!(minutes > 0) || !Number.isInteger(clients) || clients < 1 || !Number.isInteger(seed)) {
    console.error(usage());
    return 64;
  }
  console.log(
    `soak: ${minutes} min, seed ${seed}, ${clients} clients (npm run soak -- --seed ${seed} repeats the choices)`,
  );
  const result = await runSoak({ minutes, seed, clients, keep: values.keep });
  console.log(result.summary);
  return result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

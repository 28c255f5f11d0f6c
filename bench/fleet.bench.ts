/**
 * Fleet bench: N services, each a `tether run` process with its own built-in
 * simulated controller, in one life-cycle group on one mosquitto.
 *
 *   npm run bench:fleet -- [N] [--rounds R] [--rest-ms MS]     (N defaults to 20)
 *
 * 1. Start: all N spawned at once; from the first spawn until every
 *    retained state shows Synchronized (and each service's own time).
 * 2. Rest: broker PUBLISH messages per second over --rest-ms with
 *    everything Synchronized: in, the fleet's (counted on a subscription to
 *    `tether/#`); out, mosquitto's $SYS counter (the bench's own $SYS traffic
 *    left out). "Out" includes the copies the bench itself receives, as one
 *    dashboard would.
 * 3. Change: R rounds of a `paused` trigger on one member (over MQTT), then
 *    a `started` one, each after 1.5 s of quiet; for each, the time from the
 *    trigger until each member's lifecycle event and its retained state show
 *    it (p50, p99 over members and rounds), and the broker's messages per
 *    second from the first trigger until the last member had followed the
 *    last one (the quiet included).
 * 4. RSS and CPU of each service process (its worker threads included), at rest.
 *
 * The services use the defaults except that actor starts get room and hang
 * detection is off (all N start at once on the same 2 cores). Prints a Markdown table;
 * docs/performance.md records a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { StateDocument } from '../contracts/bus.js';
import { TestClient, killOnExit, startBroker, type Broker } from '../test/mqtt/broker.js';
import { summarize } from './measure.js';

const CLI = fileURLToPath(new URL('../cli/tether.js', import.meta.url));
const GROUP = 'fleet';
const START_DEADLINE_MS = 600_000;
const CHANGE_DEADLINE_MS = 120_000;
/** Quiet before each trigger: longer than mqtt.minIntervalMs (500 ms by default). */
const SETTLE_MS = 1500;

interface Options {
  n: number;
  rounds: number;
  restMs: number;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { n: 20, rounds: 5, restMs: 30_000 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else if (arg === '--rest-ms') options.restMs = Number(argv[++i]);
    else options.n = Number(arg);
  }
  if (!Number.isInteger(options.n) || options.n < 2) throw new Error(`N must be an integer of at least 2`);
  return options;
}

/**
 * N services start at once on 2 cores: an actor's start may wait minutes for
 * the CPU, and a busy loop is not what this bench looks for, so starts get
 * room and hang detection is off.
 */
const ROOMY_CHILD = '{startTimeoutMs: 300000, heartbeat: false}';

function spawnService(dir: string, name: string, brokerUrl: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'run', '--sim-if-unconfigured'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TETHER_HTTP__PORT: '0',
      TETHER_STATE_DIR: join(dir, name),
      TETHER_LOG__LEVEL: 'warn',
      TETHER_MQTT__URL: brokerUrl,
      TETHER_MQTT__SERVICE: name,
      TETHER_LIFECYCLE__GROUP: GROUP,
      ...Object.fromEntries(
        ['CONNECTION', 'COMMANDER', 'SYNCHRONIZATION', 'WATCHDOG', 'MQTT'].map((c) => [
          `TETHER_SUPERVISION__CHILDREN__${c}`,
          ROOMY_CHILD,
        ]),
      ),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  // The last lines it wrote (warnings and errors: the log level is warn), for an exit to explain itself.
  let errors = '';
  const keep = (chunk: Buffer): void => void (errors = (errors + chunk.toString()).slice(-3000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`${name} exited ${code}: ${errors}\n`);
  });
  return child;
}

/** CPU time a process has used so far (user + system), in seconds (/proc's clock ticks are 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: the fields that follow start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * What the broker sent ($SYS, every second with sys_interval 1), and what
 * the fleet publishes as this bench sees it: mosquitto 2.0's
 * `publish/messages/received` leaves QoS 1 publications out, so those are
 * counted here, on a subscription to all of `tether/#`.
 */
class BrokerCounters {
  #publishSent = 0;
  #fleetPublished = 0;
  updates = 0;
  /** $SYS messages sent to this bench: the broker counts them, they are not the fleet's. */
  #ownSys = 0;
  constructor(observer: TestClient) {
    observer.client.on('message', (topic, payload) => {
      if (topic.startsWith('$SYS/')) {
        this.#ownSys += 1;
        const value = Number(payload.toString());
        if (topic === '$SYS/broker/publish/messages/sent') {
          this.#publishSent = value;
          this.updates += 1;
        }
      } else if (!topic.includes('/cmd/')) {
        // Everything the services publish (the bench's own requests left out).
        this.#fleetPublished += 1;
      }
    });
  }

  snapshot(): Counts {
    return {
      fleetPublished: this.#fleetPublished,
      publishSent: this.#publishSent - this.#ownSys,
      at: performance.now(),
    };
  }

  /** The next update (so a snapshot after it covers everything before now). */
  async next(): Promise<void> {
    const seen = this.updates;
    const deadline = Date.now() + 5000;
    while (this.updates === seen && Date.now() < deadline) await sleep(50);
  }
}

interface Counts {
  fleetPublished: number;
  publishSent: number;
  at: number;
}

function rate(from: Counts, to: Counts) {
  const seconds = (to.at - from.at) / 1000;
  const per = (key: Exclude<keyof Counts, 'at'>): number => (to[key] - from[key]) / seconds;
  return {
    in: per('fleetPublished'),
    out: per('publishSent'),
    seconds,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** When each service's lifecycle event (not coalesced, unlike the state) announced each state. */
class LifecycleEvents {
  readonly #seen: Array<{ name: string; to: string; at: number }> = [];
  constructor(observer: TestClient) {
    observer.client.on('message', (topic, payload) => {
      const match = /^tether\/([^/]+)\/events\/lifecycle$/.exec(topic);
      if (match === null) return;
      const event = JSON.parse(payload.toString()) as { to: string };
      this.#seen.push({ name: match[1]!, to: event.to, at: performance.now() });
    });
  }

  /** For each name, the first event into `to` seen after `since`. */
  since(names: readonly string[], to: string, since: number): number[] {
    return names.flatMap((name) => {
      const found = this.#seen.find((e) => e.name === name && e.to === to && e.at >= since);
      return found === undefined ? [] : [found.at - since];
    });
  }
}

/** Latest retained state per service, and when each first showed a condition. */
class Fleet {
  readonly latest = new Map<string, StateDocument>();
  readonly #waiters = new Set<() => void>();
  constructor(observer: TestClient) {
    observer.client.on('message', (topic, payload) => {
      const match = /^tether\/([^/]+)\/state$/.exec(topic);
      if (match === null) return;
      this.latest.set(match[1]!, JSON.parse(payload.toString()) as StateDocument);
      for (const wake of [...this.#waiters]) wake();
    });
  }

  /** Resolves with the time (performance.now()) at which each name first satisfied `condition`. */
  until(
    names: readonly string[],
    condition: (doc: StateDocument) => boolean,
    timeoutMs: number,
  ): Promise<Map<string, number>> {
    const when = new Map<string, number>();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const now = performance.now();
        for (const name of names) {
          const doc = this.latest.get(name);
          if (!when.has(name) && doc !== undefined && condition(doc)) when.set(name, now);
        }
        if (when.size === names.length) {
          this.#waiters.delete(check);
          clearTimeout(timer);
          resolve(when);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        const missing = names.filter((n) => !when.has(n));
        reject(new Error(`${missing.length} services did not get there: ${missing.slice(0, 10).join(', ')}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const names = Array.from({ length: options.n }, (_, i) => `s${i + 1}`);
  console.log(
    `fleet bench: N=${options.n}, ${options.rounds} rounds, rest ${options.restMs} ms; ` +
      `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  const broker: Broker = await startBroker({ extraConfig: ['sys_interval 1'] });
  const dir = await mkdtemp(join(tmpdir(), 'tether-fleet-bench-'));
  const observer = await TestClient.connect(broker.url, 'fleet-bench');
  const children = new Map<string, ChildProcess>();
  try {
    const fleet = new Fleet(observer);
    const sys = new BrokerCounters(observer);
    const events = new LifecycleEvents(observer);
    await observer.subscribe('tether/#');
    await observer.subscribe('$SYS/broker/publish/messages/sent');

    // 1. start
    const spawnedAt = new Map<string, number>();
    const t0 = performance.now();
    for (const name of names) {
      spawnedAt.set(name, performance.now());
      children.set(name, spawnService(dir, name, broker.url));
    }
    const synced = await fleet.until(
      names,
      (doc) => doc.data.phase.name === 'Synchronized' && doc.data.lifecycle.state === 'started',
      START_DEADLINE_MS,
    );
    const allSynced = Math.max(...synced.values()) - t0;
    const own = names.map((name) => synced.get(name)! - spawnedAt.get(name)!);
    console.log(`all ${options.n} Synchronized ${(allSynced / 1000).toFixed(1)} s after the first spawn`);

    // 2. rest (after the start has settled: a publish interval's worth of republishing included)
    await sleep(5000);
    await sys.next();
    const restFrom = sys.snapshot();
    const pids = names.map((name) => children.get(name)!.pid!);
    const cpuFrom = pids.map(cpuSeconds);
    await sleep(options.restMs);
    const cpuAtRest = pids.map((pid, i) => (cpuSeconds(pid) - cpuFrom[i]!) / (options.restMs / 1000));
    await sys.next();
    const rest = rate(restFrom, sys.snapshot());
    const rss = names.map((name) => rssMb(children.get(name)!.pid!));
    console.log(`at rest: ${rest.in.toFixed(2)} in/s, ${rest.out.toFixed(2)} out/s`);

    // 3. change
    const latencies: Record<'paused' | 'started', number[]> = { paused: [], started: [] };
    const eventLatencies: Record<'paused' | 'started', number[]> = { paused: [], started: [] };
    const converge: Record<'paused' | 'started', number[]> = { paused: [], started: [] };
    await sys.next();
    const changeFrom = sys.snapshot();
    for (let round = 0; round < options.rounds; round += 1) {
      for (const target of ['paused', 'started'] as const) {
        const member = names[round % names.length]!;
        // A trigger at rest, as an operator's would be: past the last state publication's minIntervalMs.
        await sleep(SETTLE_MS);
        const sent = performance.now();
        const answer = observer.request(
          `tether/${member}/cmd/lifecycle`,
          { state: target },
          { timeoutMs: 60_000 },
        );
        const reached = await fleet.until(
          names,
          (doc) => doc.data.lifecycle.state === target,
          CHANGE_DEADLINE_MS,
        );
        await answer;
        for (const at of reached.values()) latencies[target].push(at - sent);
        converge[target].push(Math.max(...reached.values()) - sent);
        eventLatencies[target].push(...events.since(names, target, sent));
        // Back to work before the next trigger: every link Synchronized again after a start.
        if (target === 'started') {
          await fleet.until(names, (doc) => doc.data.phase.name === 'Synchronized', CHANGE_DEADLINE_MS);
        }
      }
    }
    await sys.next();
    const change = rate(changeFrom, sys.snapshot());

    // 4. report
    const spread = (target: 'paused' | 'started'): string[] => {
      const lat = summarize(latencies[target]);
      const ev = summarize(eventLatencies[target]);
      const conv = summarize(converge[target]);
      return [
        `| \`${target}\` on one member, to each member's lifecycle event (p50 / p99 / max, ${eventLatencies[target].length} samples) | ${ev.p50.toFixed(0)} / ${ev.p99.toFixed(0)} / ${ev.max.toFixed(0)} ms |`,
        `| \`${target}\` on one member, to each member's retained state showing it (p50 / p99 / max) | ${lat.p50.toFixed(0)} / ${lat.p99.toFixed(0)} / ${lat.max.toFixed(0)} ms |`,
        `| \`${target}\` on one member, until every state shows it (p50 / max of ${converge[target].length}) | ${conv.p50.toFixed(0)} / ${conv.max.toFixed(0)} ms |`,
      ];
    };
    const ownStart = summarize(own);
    const mem = summarize(rss);
    const cpu = summarize(cpuAtRest.map((share) => share * 100));
    const fleetCpu = cpuAtRest.reduce((sum, share) => sum + share, 0);
    const table = [
      `| measure (N = ${options.n}) | value |`,
      '| --- | --- |',
      `| start: first spawn to every retained state Synchronized | ${(allSynced / 1000).toFixed(1)} s |`,
      `| start: each service, spawn to its state Synchronized (p50 / max) | ${(ownStart.p50 / 1000).toFixed(1)} s / ${(ownStart.max / 1000).toFixed(1)} s |`,
      ...spread('paused'),
      ...spread('started'),
      `| broker PUBLISH at rest, in / out | ${rest.in.toFixed(2)} / ${rest.out.toFixed(2)} per s (over ${rest.seconds.toFixed(0)} s) |`,
      `| broker PUBLISH during the changes, in / out | ${change.in.toFixed(1)} / ${change.out.toFixed(1)} per s (over ${change.seconds.toFixed(1)} s) |`,
      `| RSS per service process, at rest (p50 / max) | ${mem.p50.toFixed(0)} / ${mem.max.toFixed(0)} MB |`,
      `| CPU per service process, at rest (p50 / max; the fleet together) | ${cpu.p50.toFixed(1)} / ${cpu.max.toFixed(1)} % of a core; ${fleetCpu.toFixed(2)} cores |`,
      `| mosquitto RSS, at rest | ${rssOfBroker(broker)} |`,
    ];
    console.log(`\n${table.join('\n')}\n`);
  } finally {
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await observer.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function rssOfBroker(broker: Broker): string {
  const pid = broker.pid;
  return pid === undefined ? 'n/a' : `${rssMb(pid).toFixed(0)} MB`;
}

await main();

/**
 * End-to-end plumbing: a real simulator (TCP on 127.0.0.1, or a socat pty),
 * the real service with its four actors in worker threads, and waiting on
 * phase changes with deadlines. After each test: nothing left running.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { resolveConfig } from '../../config/index.js';
import type { DeepPartial, TetherConfig } from '../../config/index.js';
import type { PhaseChange } from '../../kernel/kernel.js';
import type { PhaseName } from '../../contracts/phase.js';
import { startService } from '../../kernel/service.js';
import type { Service } from '../../kernel/service.js';
import { liveWorkerCount } from '../../runtime/index.js';
import { startSimulator } from '../../sim/index.js';
import { Recorder } from '../recorder.js';
import type { Simulator, SimulatorOptions } from '../../sim/index.js';
import { startTelemetry } from '../../otel/telemetry.js';
import type { Telemetry } from '../../otel/telemetry.js';

/** Short timings so failures show in seconds; every bound stays well above what the machine needs. */
export const FAST: DeepPartial<TetherConfig> = {
  discovery: { intervalMs: 200 },
  connection: { connectTimeoutMs: 2000, retry: { initialMs: 100, factor: 1.5, maxMs: 1000 } },
  synchronization: { handshakePingMs: 200, handshakeTimeoutMs: 3000 },
  commander: { timeoutMs: 3000 },
  // Short enough to see a silent controller in about 2 s; long enough that a busy 2-core machine
  // (a GC pause, another test suite) does not look like one.
  watchdog: { idleMs: 1000, timeoutMs: 1000 },
  log: { level: 'debug' },
  // Loading an actor (and the OpenTelemetry SDK in it, when telemetry is on) can take a loaded
  // 2-core machine more than the default 5 s: a slow start must not be what fails a test.
  supervision: {
    children: Object.fromEntries(
      ['connection', 'commander', 'synchronization', 'watchdog', 'mqtt'].map((id) => [
        id,
        { startTimeoutMs: 30_000 },
      ]),
    ),
  },
};

export interface ServiceFixture {
  service: Service;
  sim: Simulator;
  phases: PhaseWatch;
  /** Log lines of the run (JSON objects), for assertions on what a user would read. */
  logs: Array<Record<string, unknown>>;
}

export function deepMerge<T>(base: T, extra: unknown): T {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return (extra ?? base) as T;
  if (typeof extra !== 'object' || extra === null) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(extra)) out[key] = deepMerge(out[key], value);
  return out as T;
}

export async function withService(
  body: (fixture: ServiceFixture) => Promise<void>,
  options: {
    config?: DeepPartial<TetherConfig>;
    sim?: SimulatorOptions;
    pty?: boolean;
    /** Telemetry on, configured by these OTEL_* variables (started before the service, shut down after). */
    telemetryEnv?: NodeJS.ProcessEnv;
  } = {},
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-e2e-'));
  const sim = await startSimulator({ port: options.pty === true ? false : 0, ...options.sim });
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        if (process.env['TETHER_TEST_LOG'] === '1') process.stderr.write(chunk);
        done();
      },
    }),
  );
  let service: Service | undefined;
  let telemetry: Telemetry | undefined;
  try {
    let discovery: DeepPartial<TetherConfig['discovery']>;
    if (options.pty === true) {
      const { path } = await sim.attachPty();
      discovery = { mode: 'usb', usb: { path } };
    } else {
      discovery = { mode: 'tcp', tcp: { host: '127.0.0.1', port: sim.address?.port ?? 0 } };
    }
    const overrides = deepMerge(deepMerge(FAST, { discovery, stateDir }), options.config ?? {});
    const config = resolveConfig({ env: {}, overrides }).config;
    if (options.telemetryEnv !== undefined) {
      telemetry = await startTelemetry(config.telemetry, options.telemetryEnv, logger);
    }
    service = await startService(config, { logger, inContainer: false, ...(telemetry && { telemetry }) });
    const phases = new PhaseWatch(service);
    await body({ service, sim, phases, logs });
  } finally {
    await service?.stop();
    await telemetry?.shutdown();
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
  assert.equal(liveWorkerCount(), 0, 'a worker thread was left running');
}

/** Records phase changes and waits for one with a deadline. */
export class PhaseWatch {
  readonly #seen = new Recorder<PhaseChange>();

  constructor(service: Service) {
    // The service may have moved already while it started: begin with what it did.
    this.#seen.push(...service.kernel.history());
    service.kernel.onPhaseChange((change) => this.#seen.push(change));
  }

  get changes(): readonly PhaseChange[] {
    return this.#seen.items;
  }

  get current(): PhaseName | undefined {
    return this.changes.at(-1)?.to.name;
  }

  /** Resolves with the first change into `phase` after change number `after` (default: any so far). */
  waitFor(
    phase: PhaseName,
    timeoutMs = 10_000,
    after = 0,
    match: (change: PhaseChange) => boolean = () => true,
  ): Promise<PhaseChange> {
    return this.#seen.waitFor((c) => c.to.name === phase && match(c), {
      timeoutMs,
      from: after,
      what: `phase ${phase}`,
      summary: () => this.changes.map((c) => `${c.to.name}(${c.reason})`).join(' -> '),
    });
  }

  /** A mark to wait for changes after now. */
  mark(): number {
    return this.changes.length;
  }
}

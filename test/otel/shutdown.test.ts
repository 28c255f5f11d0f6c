/**
 * `tether run` as a real process, exporting to a collector that accepts
 * connections and never answers: SIGTERM still ends it with exit 0 within
 * 3.5 s. The telemetry flush is bounded (sdk.ts), and an export still in
 * flight after the bound does not hold the process open.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../../sim/index.js';
import { ROOMY_START_ENV } from '../e2e/tether-process.js';
import { Recorder } from '../recorder.js';
import { SilentCollector } from './receiver.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
/** What issue 10 asks of a stop whatever the collector does. */
const EXIT_BOUND_MS = 3500;

it('SIGTERM with a collector that never answers exits 0 within 3.5 s, the flush cut at its bound', async () => {
  const collector = await SilentCollector.start();
  const sim = await startSimulator({ port: 0 });
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-otel-shutdown-'));
  const child = spawn(
    process.execPath,
    [CLI, 'run', '--discovery', 'tcp', '--tcp', `127.0.0.1:${sim.address?.port}`, '--state-dir', stateDir],
    {
      env: {
        PATH: process.env['PATH'] ?? '',
        TETHER_HTTP__PORT: '0',
        ...ROOMY_START_ENV,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        // Exports start at once and would wait out a long timeout (capped at 5 s by the service).
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_EXPORTER_OTLP_TIMEOUT: '30000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines = new Recorder<Record<string, unknown>>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts.filter((p) => p.trim() !== '')) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ msg: part });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => lines.push({ stderr: chunk.toString() }));
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const summary = (): string => lines.items.map((l) => JSON.stringify(l)).join('\n');
  try {
    const started = { timeoutMs: 60_000, what: 'a started service', summary };
    await lines.waitFor((l) => l['event'] === 'http-listening', started);
    await lines.waitFor((l) => l['event'] === 'phase' && l['to'] === 'Synchronized', started);
    // Exports of both signals are in flight, unanswered, when the signal lands.
    const sent = { timeoutMs: 10_000, what: 'an export reaching the collector', summary: () => '' };
    await collector.requests.waitFor((url) => url.endsWith('/v1/traces'), sent);
    await collector.requests.waitFor((url) => url.endsWith('/v1/metrics'), sent);
    const signalAt = Date.now();
    child.kill('SIGTERM');
    const { code, at } = await exit;
    assert.equal(code, 0, summary());
    assert.ok(at - signalAt < EXIT_BOUND_MS, `exited ${at - signalAt} ms after SIGTERM`);
    assert.ok(
      lines.items.some((l) => String(l['msg']).startsWith('telemetry flush did not finish')),
      'the flush was cut at its bound',
    );
    assert.ok(lines.items.some((l) => l['msg'] === 'tether stopped' && l['exitCode'] === 0));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
    await sim.close();
    await collector.close();
    await rm(stateDir, { recursive: true, force: true });
  }
});

/**
 * The commander with telemetry on in this thread (a process of its own, as
 * every test file): each request is one span and one latency measurement,
 * whatever way it ends, read from the SDK's meter provider (as a worker has).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram } from '@opentelemetry/sdk-metrics';
import { Commander } from '../../actors/commander/commander.js';
import { ControllerError, NotReadyError } from '../../contracts/actors.js';
import { markTelemetryOn } from '../../otel/instruments.js';
import { ATTR, METRICS } from '../../otel/names.js';
import {
  FakeConnection,
  FakeKernel,
  FakeTimers,
  RecordingLog,
  drain,
  ok,
  stateOf,
} from '../actors/commander/fakes.js';

class PullReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const reader = new PullReader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
markTelemetryOn();
after(() => metrics.disable());

/** Latency measurements so far, by result. */
async function countsByResult(): Promise<Record<string, number>> {
  const scopes = (await reader.collect()).resourceMetrics.scopeMetrics;
  const metric = scopes.flatMap((s) => s.metrics).find((m) => m.descriptor.name === METRICS.commandDuration);
  const out: Record<string, number> = {};
  for (const point of (metric?.dataPoints ?? []) as DataPoint<Histogram>[]) {
    out[String(point.attributes[ATTR.result])] = point.value.count;
  }
  return out;
}

test('a command is measured once whether it succeeds, fails at the controller or is refused', async () => {
  const connection = new FakeConnection();
  const kernel = new FakeKernel(stateOf('Synchronized', 1));
  const commander = new Commander(
    { timeoutMs: 1000, checkTimeoutMs: 300, recovery: 'disconnect' },
    { connection, kernel, timers: new FakeTimers(), log: new RecordingLog(), crash: () => undefined },
  );
  commander.onKernelState(stateOf('Synchronized', 1));

  const good = commander.request('NONE', undefined);
  await drain();
  commander.onResponse(1, ok(connection.last));
  await good;

  const bad = commander.request('BLOCK_READ', { id: 1 });
  await drain();
  commander.onResponse(1, { msgId: connection.last.msgId, error: 'BLOCK_NOT_FOUND' });
  await assert.rejects(bad, ControllerError);

  commander.onKernelState(stateOf('Connected', 2));
  await assert.rejects(commander.request('BLOCK_READ', { id: 1 }), NotReadyError);

  assert.deepEqual(await countsByResult(), {
    ok: 1,
    TETHER_CONTROLLER_ERROR: 1,
    TETHER_NOT_READY: 1,
  });
  commander.terminate();
});

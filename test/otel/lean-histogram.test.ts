/**
 * The workers' lean histograms, checked against the SDK's: the same
 * measurements recorded on both must collect to the same points (buckets,
 * sum, count, min, max, attributes), and the other instruments of a lean
 * meter must still be the SDK's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueType } from '@opentelemetry/api';
import type { Attributes, MeterProvider as ApiMeterProvider, MetricOptions } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { LeanMeterProvider } from '../../otel/lean-histogram.js';

/** A reader that only collects when asked. */
class PullReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Measurement {
  value: number;
  attributes?: Attributes;
}

const FROZEN_OK = Object.freeze({ 'tether.command.opcode': 'BLOCK_READ', 'tether.command.result': 'ok' });

/** Values at, between, below and above the bounds; one attribute set in two key orders and frozen; NaN and negatives. */
const MEASUREMENTS: Measurement[] = [
  { value: 0, attributes: FROZEN_OK },
  { value: 0.5, attributes: FROZEN_OK },
  { value: 0.75, attributes: { 'tether.command.result': 'ok', 'tether.command.opcode': 'BLOCK_READ' } },
  { value: 1, attributes: { 'tether.command.opcode': 'BLOCK_READ', 'tether.command.result': 'ok' } },
  { value: 2.5, attributes: FROZEN_OK },
  { value: 10_000, attributes: FROZEN_OK },
  { value: 123_456, attributes: FROZEN_OK },
  { value: Number.NaN, attributes: FROZEN_OK },
  { value: -1, attributes: FROZEN_OK },
  {
    value: 7,
    attributes: { 'tether.command.opcode': 'BLOCK_READ', 'tether.command.result': 'TETHER_TIMEOUT' },
  },
  { value: 3.9 },
  { value: 42, attributes: { count: 3, flag: true } },
];

async function collectBoth(
  options: MetricOptions,
  measurements: Measurement[],
): Promise<{ sdk: ScopeMetrics[]; lean: ScopeMetrics[] }> {
  const sdkReader = new PullReader();
  const sdk = new MeterProvider({ readers: [sdkReader] });
  const leanReader = new PullReader();
  const lean = new LeanMeterProvider(new MeterProvider({ readers: [leanReader] }));
  for (const provider of [sdk, lean] as ApiMeterProvider[]) {
    const histogram = provider
      .getMeter('tether', '1.0.0')
      .createHistogram('tether.command.duration', options);
    for (const { value, attributes } of measurements) histogram.record(value, attributes);
  }
  const fromSdk = (await sdkReader.collect()).resourceMetrics.scopeMetrics;
  const fromLean = lean.mergeInto((await leanReader.collect()).resourceMetrics.scopeMetrics);
  await Promise.all([sdk.shutdown(), leanReader.shutdown()]);
  return { sdk: fromSdk, lean: fromLean };
}

/** The comparable part of each point, in a stable order. */
function points(scopes: ScopeMetrics[]): unknown[] {
  const metric = scopes
    .flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === 'tether.command.duration');
  assert.ok(metric, 'the histogram was collected');
  assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
  const dataPoints = metric.dataPoints as DataPoint<Histogram>[];
  return dataPoints
    .map((point) => ({ attributes: point.attributes, value: point.value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

function descriptorOf(scopes: ScopeMetrics[]): unknown {
  const metric = scopes.flatMap((scope) => scope.metrics)[0];
  assert.ok(metric);
  const { name, description, unit, valueType } = metric.descriptor;
  const scope = scopes[0]?.scope;
  return {
    scope: { name: scope?.name, version: scope?.version, schemaUrl: scope?.schemaUrl },
    name,
    description,
    unit,
    valueType,
    temporality: metric.aggregationTemporality,
  };
}

describe('lean histogram', () => {
  it('collects what the SDK histogram collects, with bucket bounds from the advice', async () => {
    const options: MetricOptions = {
      unit: 'ms',
      description: 'Command latency',
      advice: { explicitBucketBoundaries: [0.5, 1, 2, 5, 10, 10_000] },
    };
    const { sdk, lean } = await collectBoth(options, MEASUREMENTS);
    assert.deepEqual(points(lean), points(sdk));
    assert.deepEqual(descriptorOf(lean), descriptorOf(sdk));
  });

  it('uses the SDK default bounds without advice, and truncates an INT histogram as the SDK does', async () => {
    const plain = await collectBoth({}, MEASUREMENTS);
    assert.deepEqual(points(plain.lean), points(plain.sdk));
    const integer = await collectBoth({ valueType: ValueType.INT }, MEASUREMENTS);
    assert.deepEqual(points(integer.lean), points(integer.sdk));
  });

  it('sorts the advice bounds and drops the infinite ones, as the SDK does', async () => {
    const { sdk, lean } = await collectBoth(
      { advice: { explicitBucketBoundaries: [10, Infinity, 1, -Infinity, 5] } },
      MEASUREMENTS,
    );
    assert.deepEqual(points(lean), points(sdk));
  });

  it('past 2000 attribute sets counts new ones under the overflow set, as the SDK does', async () => {
    const many: Measurement[] = Array.from({ length: 2100 }, (_, i) => ({
      value: i % 7,
      attributes: { 'tether.child.id': `child-${i}` },
    }));
    const { sdk, lean } = await collectBoth({}, many);
    const overflow = (scopes: ScopeMetrics[]): unknown =>
      (points(scopes) as Array<{ attributes: Attributes; value: Histogram }>).find(
        (p) => p.attributes['otel.metric.overflow'] === true,
      );
    assert.ok(overflow(lean), 'an overflow point');
    assert.deepEqual(overflow(lean), overflow(sdk));
    assert.equal(points(lean).length, points(sdk).length);
  });

  it('collects nothing for a histogram with no measurement, and leaves the other instruments to the SDK', async () => {
    const reader = new PullReader();
    const lean = new LeanMeterProvider(new MeterProvider({ readers: [reader] }));
    const meter = lean.getMeter('tether');
    meter.createHistogram('unused');
    meter.createCounter('tether.frames.in').add(3, { kind: 'response' });
    const scopes = lean.mergeInto((await reader.collect()).resourceMetrics.scopeMetrics);
    const names = scopes.flatMap((scope) => scope.metrics.map((m) => m.descriptor.name));
    assert.deepEqual(names, ['tether.frames.in']);
    await reader.shutdown();
  });

  it('adds its histograms to the scope the SDK collected for the same meter', async () => {
    const reader = new PullReader();
    const lean = new LeanMeterProvider(new MeterProvider({ readers: [reader] }));
    const meter = lean.getMeter('tether', '1.0.0');
    meter.createCounter('tether.frames.out').add(1);
    meter.createHistogram('tether.command.duration').record(4, FROZEN_OK);
    assert.equal(
      meter.createHistogram('TETHER.command.duration'),
      meter.createHistogram('tether.command.duration'),
    );
    const scopes = lean.mergeInto((await reader.collect()).resourceMetrics.scopeMetrics);
    assert.equal(scopes.length, 1);
    assert.deepEqual(
      scopes[0]?.metrics.map((m) => m.descriptor.name),
      ['tether.frames.out', 'tether.command.duration'],
    );
    await reader.shutdown();
  });
});

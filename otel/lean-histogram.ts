/**
 * Histograms for the workers' hot paths. The SDK's histogram hashes the
 * attributes of every measurement (keys sorted, then JSON.stringify) to find
 * its cell: at thousands of commands per second that was a tenth of the
 * commander's time. Here a measurement whose attributes object is frozen
 * finds its cell by the object itself (the commander keeps one frozen
 * object per opcode and result); others are keyed as the SDK keys them.
 *
 * What is kept of the SDK's histogram (sdk-metrics 2.x, checked against it
 * in test/otel/lean-histogram.test.ts): explicit buckets from the advice or
 * the SDK's defaults, a value in the first bucket whose bound is >= it,
 * sum, count, min and max, negative and NaN values dropped, an INT
 * histogram truncating fractions, cumulative points from the first
 * measurement of an attribute set, the 2000-set cardinality limit with the
 * overflow set. Views do not apply (workers configure none).
 *
 * LeanMeterProvider wraps the SDK's provider: histograms are made here,
 * every other instrument by the SDK; `collect` gives the histograms as the
 * SDK's ScopeMetrics, to be merged with the SDK's own collection.
 */
import { ValueType } from '@opentelemetry/api';
import type {
  Attributes,
  Histogram,
  Meter,
  MeterOptions,
  MeterProvider,
  MetricOptions,
} from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { HistogramMetricData, MetricDescriptor, ScopeMetrics } from '@opentelemetry/sdk-metrics';

/** The SDK's default explicit bucket boundaries. */
const DEFAULT_BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
/** As the SDK: at most this many attribute sets, the rest counted under OVERFLOW. */
const CARDINALITY_LIMIT = 2000;
const OVERFLOW: Attributes = Object.freeze({ 'otel.metric.overflow': true });

interface Cell {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  readonly counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class LeanHistogram implements Histogram {
  readonly descriptor: MetricDescriptor;
  readonly #boundaries: readonly number[];
  readonly #integer: boolean;
  readonly #byKey = new Map<string, Cell>();
  readonly #byObject = new WeakMap<Attributes, Cell>();

  constructor(name: string, options: MetricOptions = {}) {
    this.descriptor = {
      name,
      description: options.description ?? '',
      unit: options.unit ?? '',
      valueType: options.valueType ?? ValueType.DOUBLE,
    };
    this.#boundaries = boundariesOf(options.advice?.explicitBucketBoundaries ?? DEFAULT_BOUNDARIES);
    this.#integer = this.descriptor.valueType === ValueType.INT;
  }

  record(value: number, attributes: Attributes = {}): void {
    if (typeof value !== 'number' || !(value >= 0)) return; // negative and NaN: dropped, as the SDK does
    if (this.#integer && !Number.isInteger(value)) {
      value = Math.trunc(value);
      if (!Number.isInteger(value)) return;
    }
    const cell = this.#cell(attributes);
    cell.count += 1;
    cell.sum += value;
    if (value < cell.min) cell.min = value;
    if (value > cell.max) cell.max = value;
    const bucket = bucketOf(this.#boundaries, value);
    cell.counts[bucket] = (cell.counts[bucket] as number) + 1;
  }

  #cell(attributes: Attributes): Cell {
    let cell = this.#byObject.get(attributes);
    if (cell !== undefined) return cell;
    const key = keyOf(attributes);
    cell = this.#byKey.get(key);
    if (cell === undefined) {
      // Past the limit new sets share the overflow set's cell, as the SDK does.
      if (this.#byKey.size >= CARDINALITY_LIMIT - 1) return this.#overflowCell();
      cell = this.#newCell(attributes);
      this.#byKey.set(key, cell);
    }
    // A frozen object cannot say something else next time: it may find its cell by itself.
    if (Object.isFrozen(attributes)) this.#byObject.set(attributes, cell);
    return cell;
  }

  #overflowCell(): Cell {
    const key = keyOf(OVERFLOW);
    let cell = this.#byKey.get(key);
    if (cell === undefined) {
      cell = this.#newCell(OVERFLOW);
      this.#byKey.set(key, cell);
    }
    return cell;
  }

  #newCell(attributes: Attributes): Cell {
    return {
      attributes: { ...attributes },
      startTime: millisToHrTime(Date.now()),
      counts: new Array<number>(this.#boundaries.length + 1).fill(0),
      count: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
    };
  }

  /** The cumulative points so far, as the SDK's metric data; undefined before any measurement. */
  collect(endTime: HrTime): HistogramMetricData | undefined {
    if (this.#byKey.size === 0) return undefined;
    return {
      descriptor: this.descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [...this.#byKey.values()].map((cell) => ({
        attributes: cell.attributes,
        startTime: cell.startTime,
        endTime,
        value: {
          buckets: { boundaries: [...this.#boundaries], counts: [...cell.counts] },
          sum: cell.sum,
          count: cell.count,
          min: cell.min,
          max: cell.max,
        },
      })),
    };
  }
}

/** Advice boundaries as the SDK takes them: sorted, without -Infinity and Infinity. */
function boundariesOf(given: readonly number[]): number[] {
  const sorted = [...given].sort((a, b) => a - b);
  const from = sorted.lastIndexOf(-Infinity) + 1;
  const to = sorted.indexOf(Infinity);
  return sorted.slice(from, to === -1 ? undefined : to);
}

/** The SDK's binarySearchUB: the index of the first boundary >= value (the last bucket if none). */
function bucketOf(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length - 1;
  let found = boundaries.length;
  while (hi >= lo) {
    const mid = lo + ((hi - lo) >> 1);
    if ((boundaries[mid] as number) < value) lo = mid + 1;
    else {
      found = mid;
      hi = mid - 1;
    }
  }
  return found;
}

/** The SDK's hashAttributes: the same set in any key order gives the same key. */
function keyOf(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  keys.sort();
  return JSON.stringify(keys.map((key) => [key, attributes[key]]));
}

interface ScopeKey {
  name: string;
  version?: string;
  schemaUrl?: string;
}

/** A meter whose histograms are lean and whose other instruments are the SDK's. */
class LeanMeter implements Meter {
  readonly scope: ScopeKey;
  readonly histograms = new Map<string, LeanHistogram>();
  readonly #sdk: Meter;

  constructor(scope: ScopeKey, sdk: Meter) {
    this.scope = scope;
    this.#sdk = sdk;
  }

  createHistogram(name: string, options?: MetricOptions): Histogram {
    // Names are case-insensitive: asking twice gives the first one back.
    const key = name.toLowerCase();
    let histogram = this.histograms.get(key);
    if (histogram === undefined) {
      histogram = new LeanHistogram(name, options);
      this.histograms.set(key, histogram);
    }
    return histogram;
  }

  createGauge: Meter['createGauge'] = (name, options) => this.#sdk.createGauge(name, options);
  createCounter: Meter['createCounter'] = (name, options) => this.#sdk.createCounter(name, options);
  createUpDownCounter: Meter['createUpDownCounter'] = (name, options) =>
    this.#sdk.createUpDownCounter(name, options);
  createObservableGauge: Meter['createObservableGauge'] = (name, options) =>
    this.#sdk.createObservableGauge(name, options);
  createObservableCounter: Meter['createObservableCounter'] = (name, options) =>
    this.#sdk.createObservableCounter(name, options);
  createObservableUpDownCounter: Meter['createObservableUpDownCounter'] = (name, options) =>
    this.#sdk.createObservableUpDownCounter(name, options);
  addBatchObservableCallback: Meter['addBatchObservableCallback'] = (callback, observables) =>
    this.#sdk.addBatchObservableCallback(callback, observables);
  removeBatchObservableCallback: Meter['removeBatchObservableCallback'] = (callback, observables) =>
    this.#sdk.removeBatchObservableCallback(callback, observables);
}

export class LeanMeterProvider implements MeterProvider {
  readonly #sdk: MeterProvider;
  readonly #meters = new Map<string, LeanMeter>();

  constructor(sdk: MeterProvider) {
    this.#sdk = sdk;
  }

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let meter = this.#meters.get(key);
    if (meter === undefined) {
      const scope: ScopeKey = {
        name,
        ...(version === undefined ? {} : { version }),
        ...(options?.schemaUrl === undefined ? {} : { schemaUrl: options.schemaUrl }),
      };
      meter = new LeanMeter(scope, this.#sdk.getMeter(name, version, options));
      this.#meters.set(key, meter);
    }
    return meter;
  }

  /**
   * `scopeMetrics` (the SDK's collection) with this provider's histograms
   * added, each in the ScopeMetrics of its scope (a new one if the SDK had none).
   */
  mergeInto(scopeMetrics: ScopeMetrics[]): ScopeMetrics[] {
    const now = millisToHrTime(Date.now());
    const out = [...scopeMetrics];
    for (const meter of this.#meters.values()) {
      const metrics = [...meter.histograms.values()]
        .map((histogram) => histogram.collect(now))
        .filter((data) => data !== undefined);
      if (metrics.length === 0) continue;
      const index = out.findIndex((s) => sameScope(s.scope, meter.scope));
      const existing = out[index];
      if (existing === undefined) out.push({ scope: meter.scope, metrics });
      else out[index] = { scope: existing.scope, metrics: [...existing.metrics, ...metrics] };
    }
    return out;
  }
}

function sameScope(a: ScopeKey, b: ScopeKey): boolean {
  return (
    a.name === b.name &&
    (a.version ?? '') === (b.version ?? '') &&
    (a.schemaUrl ?? '') === (b.schemaUrl ?? '')
  );
}

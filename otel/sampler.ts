/**
 * The sampler a setting names: as the SDK's `Sampler` for the main thread's
 * tracer provider, and as a plain decision function for the workers' lean
 * tracer (lean-tracer.ts), which must decide exactly as the SDK would (the
 * tests check the two agree).
 */
import { TraceFlags } from '@opentelemetry/api';
import type { SpanContext } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { SamplerSettings } from './settings.js';

export function makeSampler({ name, ratio }: SamplerSettings): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * Whether a new span is sampled, given its valid parent (undefined for a
 * root) and its trace id. The parent-based samplers follow the parent's
 * sampled flag, remote or local alike (the SDK's defaults for
 * ParentBasedSampler); the others look at the trace id only.
 */
export type SampleDecision = (parent: SpanContext | undefined, traceId: string) => boolean;

export function makeSampleDecision({ name, ratio }: SamplerSettings): SampleDecision {
  switch (name) {
    case 'always_on':
      return () => true;
    case 'always_off':
      return () => false;
    case 'traceidratio': {
      const bound = ratioBound(ratio);
      return (_parent, traceId) => accumulate(traceId) < bound;
    }
    case 'parentbased_always_on':
      return (parent) => parent === undefined || (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    case 'parentbased_always_off':
      return (parent) => parent !== undefined && (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    case 'parentbased_traceidratio': {
      const bound = ratioBound(ratio);
      return (parent, traceId) =>
        parent === undefined ? accumulate(traceId) < bound : (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    }
  }
}

/** As TraceIdRatioBasedSampler: the ratio clamped to 0..1 (NaN is 0), as a bound on 32 bits. */
function ratioBound(ratio: number): number {
  const r = typeof ratio !== 'number' || Number.isNaN(ratio) ? 0 : ratio >= 1 ? 1 : ratio <= 0 ? 0 : ratio;
  return r === 1 ? 0x100000000 : Math.floor(r * 0xffffffff);
}

/** As TraceIdRatioBasedSampler: the four 32-bit words of the (valid, hex) trace id xor-ed together. */
function accumulate(traceId: string): number {
  let accumulation = 0;
  for (let i = 0; i < 32; i += 8) {
    let part = 0;
    for (let j = 0; j < 8; j += 1) {
      const c = traceId.charCodeAt(i + j);
      part = (part << 4) | (c < 58 ? c - 48 : c < 71 ? c - 55 : c - 87);
    }
    accumulation = (accumulation ^ part) >>> 0;
  }
  return accumulation;
}

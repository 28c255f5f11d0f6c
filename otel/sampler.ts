/**
 * The SDK's sampler that a setting names (`telemetry.sampler`, or
 * OTEL_TRACES_SAMPLER, which wins: see settings.ts). NodeSDK reads the
 * variable by itself, but the workers' tracer providers are plain
 * TracerProviders that do not, and the YAML setting needs the same mapping:
 * so both threads get their sampler here, and decide alike.
 */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';
import type { Sampler } from '@opentelemetry/sdk-trace';
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

/**
 * The supervision section in the shapes the supervisors take: flags for a
 * supervisor, and the policy part of a worker child spec (the tree builder
 * adds id, kind and module).
 */
import type { SupervisorFlags, WorkerChildSpec } from '../supervisors/spec.js';
import type { ChildName, SupervisorName, TetherConfig } from './schema.js';

export type ChildPolicyOptions = Required<
  Pick<WorkerChildSpec, 'restart' | 'shutdown' | 'heartbeat' | 'resourceLimits' | 'startTimeoutMs'>
>;

export function supervisorFlags(config: TetherConfig, name: SupervisorName): SupervisorFlags {
  const { backoff, ...flags } = config.supervision[name];
  return backoff === undefined ? flags : { ...flags, backoff: { ...backoff } };
}

export function childPolicy(config: TetherConfig, name: ChildName): ChildPolicyOptions {
  const policy = config.supervision.children[name];
  return {
    restart: policy.restart,
    shutdown: policy.shutdown,
    heartbeat: policy.heartbeat === false ? false : { ...policy.heartbeat },
    // The old generation is where a leak grows; capping it makes running out a crash of this actor only.
    // The young generation gets a cap of its own: left to V8 it is derived from the old one (about 1.5 MB
    // for 64 MB), and a busy actor (the commander at thousands of commands a second) then collects
    // garbage dozens of times a second, copying its in-flight work each time. It grows only when used.
    resourceLimits: {
      maxOldGenerationSizeMb: policy.memoryLimitMb,
      maxYoungGenerationSizeMb: policy.youngGenerationMb ?? defaultYoungGenerationMb(policy.memoryLimitMb),
    },
    startTimeoutMs: policy.startTimeoutMs,
  };
}

/** A quarter of the heap limit, 1 to 16 MB (16 for the default 64 MB). */
export function defaultYoungGenerationMb(memoryLimitMb: number): number {
  return Math.min(16, Math.max(1, Math.floor(memoryLimitMb / 4)));
}

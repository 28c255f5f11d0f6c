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
    resourceLimits: { maxOldGenerationSizeMb: policy.memoryLimitMb },
    startTimeoutMs: policy.startTimeoutMs,
  };
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidChildSpecError, InvalidSupervisorFlagsError } from '../../runtime/index.js';
import type { ChildSpec, SupervisorFlags } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import { probe, withSystem } from '../helpers.js';

describe('validation of child specs and flags', () => {
  const badChildren: Array<[field: string, spec: unknown]> = [
    ['id', { id: '', kind: 'worker', module: 'file:///x.js' }],
    ['restart', { id: 'a', kind: 'worker', module: 'file:///x.js', restart: 'sometimes' }],
    ['shutdown', { id: 'a', kind: 'worker', module: 'file:///x.js', shutdown: -1 }],
    ['module', { id: 'a', kind: 'worker' }],
    ['kind', { id: 'a', kind: 'thread', module: 'file:///x.js' }],
    ['heartbeat.timeoutMs', { id: 'a', kind: 'worker', module: 'file:///x.js', heartbeat: { timeoutMs: 0 } }],
    ['children', { id: 'a', kind: 'supervisor' }],
  ];
  for (const [field, spec] of badChildren) {
    it(`a child spec with a bad ${field} is refused, naming the field`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', children: [spec as ChildSpec] }),
          (error: unknown) => error instanceof InvalidChildSpecError && error.detail['field'] === field,
        );
      }));
  }

  it('two children with one id are refused', () =>
    withSystem(async (system) => {
      assert.throws(
        () => new Supervisor(system, { id: 'root', children: [probe('a'), probe('a')] }),
        InvalidChildSpecError,
      );
    }));

  const badFlags: Array<[field: string, flags: unknown]> = [
    ['strategy', { strategy: 'all_for_none' }],
    ['intensity', { intensity: -1 }],
    ['periodMs', { periodMs: 0 }],
    ['backoff.factor', { backoff: { factor: 0.5 } }],
    ['backoff.jitter', { backoff: { jitter: 2 } }],
    ['backoff.maxMs', { backoff: { minMs: 10, maxMs: 5 } }],
  ];
  for (const [field, flags] of badFlags) {
    it(`supervisor flags with a bad ${field} are refused, naming the field`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', flags: flags as SupervisorFlags, children: [] }),
          (error: unknown) => error instanceof InvalidSupervisorFlagsError && error.detail['field'] === field,
        );
      }));
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEARTBEAT_FLOORS, InvalidChildSpecError, InvalidSupervisorFlagsError } from '../../runtime/index.js';
import type { ChildSpec, SupervisorFlags } from '../../supervisors/index.js';
import { Supervisor } from '../../supervisors/index.js';
import { PROBE_MODULE } from '../fixtures/probe.js';
import type { ProbeApi } from '../fixtures/probe.js';
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

  const malformedFlags: Array<[what: string, flags: unknown]> = [
    ['null', null],
    ['an array', [{ strategy: 'one_for_one' }]],
    ['a string', 'one_for_one'],
    ['a number', 3],
  ];
  for (const [what, flags] of malformedFlags) {
    it(`flags given as ${what} are refused with InvalidSupervisorFlagsError naming flags`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', flags: flags as SupervisorFlags, children: [] }),
          (error: unknown) =>
            error instanceof InvalidSupervisorFlagsError && error.detail['field'] === 'flags',
        );
      }));
  }

  const malformedRoots: Array<[what: string, field: string, spec: unknown]> = [
    ['null', 'spec', null],
    ['a string', 'spec', 'root'],
    ['without children', 'children', { id: 'root' }],
    ['with children not a list', 'children', { id: 'root', children: { a: 1 } }],
    ['with children null', 'children', { id: 'root', children: null }],
    ['without an id', 'id', { children: [] }],
    ['with a child that is null', 'spec', { id: 'root', children: [null] }],
    ['with a child that is a list', 'spec', { id: 'root', children: [['a']] }],
  ];
  for (const [what, field, spec] of malformedRoots) {
    it(`a root spec ${what} is refused with InvalidChildSpecError naming ${field}`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, spec as { id: string; children: ChildSpec[] }),
          (error: unknown) => error instanceof InvalidChildSpecError && error.detail['field'] === field,
        );
      }));
  }

  const misspeltFlags: Array<[field: string, suggestion: string | undefined, flags: unknown]> = [
    ['intensty', 'intensity', { intensty: 3 }],
    ['period', 'periodMs', { period: 5 }],
    ['backoff.minMS', 'backoff.minMs', { backoff: { minMS: 10 } }],
    ['colour', undefined, { colour: 'blue' }],
  ];
  for (const [field, suggestion, flags] of misspeltFlags) {
    it(`an unknown flag ${field} is refused${suggestion === undefined ? '' : `, suggesting ${suggestion}`}`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', flags: flags as SupervisorFlags, children: [] }),
          (error: unknown) =>
            error instanceof InvalidSupervisorFlagsError &&
            error.detail['field'] === field &&
            error.detail['suggestion'] === suggestion,
        );
      }));
  }

  const worker = { id: 'a', kind: 'worker', module: 'file:///x.js' };
  const misspeltChildren: Array<[field: string, suggestion: string | undefined, spec: unknown]> = [
    ['restrat', 'restart', { ...worker, restrat: 'temporary' }],
    ['heartbeat.intervalMS', 'heartbeat.intervalMs', { ...worker, heartbeat: { intervalMS: 500 } }],
    [
      'resourceLimits.maxOldGenerationSizeMB',
      'resourceLimits.maxOldGenerationSizeMb',
      { ...worker, resourceLimits: { maxOldGenerationSizeMB: 64 } },
    ],
    ['children', undefined, { ...worker, children: [] }],
    ['chilren', 'children', { id: 'sup', kind: 'supervisor', chilren: [] }],
    ['module', undefined, { id: 'sup', kind: 'supervisor', children: [], module: 'file:///x.js' }],
  ];
  for (const [field, suggestion, spec] of misspeltChildren) {
    it(`an unknown child spec key ${field} is refused${suggestion === undefined ? '' : `, suggesting ${suggestion}`}`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', children: [spec as ChildSpec] }),
          (error: unknown) =>
            error instanceof InvalidChildSpecError &&
            error.detail['field'] === field &&
            error.detail['suggestion'] === suggestion,
        );
      }));
  }

  it('an unknown key in the root spec is refused, suggesting the known one', () =>
    withSystem(async (system) => {
      assert.throws(
        () =>
          new Supervisor(system, { id: 'root', children: [], flgas: {} } as unknown as {
            id: string;
            children: ChildSpec[];
          }),
        (error: unknown) =>
          error instanceof InvalidChildSpecError &&
          error.detail['field'] === 'flgas' &&
          error.detail['suggestion'] === 'flags',
      );
    }));

  const badValues: Array<[field: string, spec: unknown]> = [
    ['heartbeat', { ...worker, heartbeat: 'fast' }],
    ['heartbeat', { ...worker, heartbeat: null }],
    ['resourceLimits', { ...worker, resourceLimits: 64 }],
    ['resourceLimits.maxOldGenerationSizeMb', { ...worker, resourceLimits: { maxOldGenerationSizeMb: -1 } }],
    ['startTimeoutMs', { ...worker, startTimeoutMs: '5s' }],
    ['flags', { id: 'sup', kind: 'supervisor', children: [], flags: 'one_for_all' }],
    ['children', { id: 'sup', kind: 'supervisor', children: 'a,b' }],
  ];
  for (const [field, spec] of badValues) {
    it(`a child spec whose ${field} has the wrong type is refused, naming the field`, () =>
      withSystem(async (system) => {
        assert.throws(
          () => new Supervisor(system, { id: 'root', children: [spec as ChildSpec] }),
          (error: unknown) =>
            (error instanceof InvalidChildSpecError || error instanceof InvalidSupervisorFlagsError) &&
            error.detail['field'] === field,
        );
      }));
  }

  it('an error in a nested child names that child', () =>
    withSystem(async (system) => {
      assert.throws(
        () =>
          new Supervisor(system, {
            id: 'root',
            children: [
              { id: 'inner', kind: 'supervisor', children: [{ ...worker, id: 'c', restart: 'never' }] },
            ],
          } as unknown as { id: string; children: ChildSpec[] }),
        (error: unknown) =>
          error instanceof InvalidChildSpecError &&
          error.detail['field'] === 'restart' &&
          error.detail['childId'] === 'c',
      );
    }));

  it('a child spec without a kind is a worker, as in OTP', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [{ id: 'plain', module: PROBE_MODULE, shutdown: 2000 }],
      });
      await sup.start();
      assert.equal(sup.whichChildren()[0]?.kind, 'worker');
      assert.deepEqual(await system.ref<ProbeApi>('plain').call('whoami'), { id: 'plain', incarnation: 1 });
      await sup.stop();
    }));

  it('a heartbeat tighter than the floors is refused, naming the field; the floors themselves are accepted', () =>
    withSystem(async (system) => {
      const below: Array<[field: string, heartbeat: { intervalMs?: number; timeoutMs?: number }]> = [
        ['heartbeat.intervalMs', { intervalMs: HEARTBEAT_FLOORS.intervalMs - 1 }],
        ['heartbeat.timeoutMs', { timeoutMs: HEARTBEAT_FLOORS.timeoutMs - 1 }],
        ['heartbeat.intervalMs', { intervalMs: 1, timeoutMs: 1 }],
      ];
      for (const [field, heartbeat] of below) {
        assert.throws(
          () => new Supervisor(system, { id: 'root', children: [probe('a', { heartbeat })] }),
          (error: unknown) => error instanceof InvalidChildSpecError && error.detail['field'] === field,
        );
      }
      new Supervisor(system, { id: 'root', children: [probe('a', { heartbeat: { ...HEARTBEAT_FLOORS } })] });
    }));

  it('system.spawn refuses a heartbeat tighter than the floors too', () =>
    withSystem(async (system) => {
      await assert.rejects(
        system.spawn({
          id: 'a',
          module: PROBE_MODULE,
          heartbeat: { intervalMs: 1, timeoutMs: 1 },
          startTimeoutMs: 5000,
        }),
        (error: unknown) =>
          error instanceof InvalidChildSpecError && error.detail['field'] === 'heartbeat.intervalMs',
      );
    }));
});

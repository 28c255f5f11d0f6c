/**
 * The service's supervision tree from its configuration: the task pool child
 * is sized from the YAML's tasks.pool, and a bad value there is a
 * configuration error naming its key, before any tree starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../config/index.js';
import { TASK_POOL_ID, serviceTree } from '../../kernel/tree.js';
import { Supervisor } from '../../supervisors/index.js';
import type { PoolChildSpec } from '../../supervisors/index.js';
import { onlyProblem } from '../config/helpers.js';

const YAML = [
  'tasks:',
  '  pool:',
  '    maxThreads: 3',
  '    maxQueue: 7',
  '    idleTimeoutMs: 1500',
  '    memoryLimitMb: 256',
  '    niceIncrement: 5',
  '',
].join('\n');

describe('the service tree', () => {
  it('has a task pool child sized from tasks.pool in the YAML file, a valid child spec', () => {
    const tree = serviceTree(checkConfigText('tether.yaml', YAML));
    const pool = tree.children.find((child) => child.id === TASK_POOL_ID) as PoolChildSpec | undefined;
    assert.ok(pool !== undefined);
    assert.equal(pool.kind, 'pool');
    assert.deepEqual(pool.threads, { min: 0, max: 3 });
    assert.equal(pool.maxQueue, 7);
    assert.equal(pool.idleTimeoutMs, 1500);
    assert.deepEqual(pool.resourceLimits, { maxOldGenerationSizeMb: 256 });
    assert.equal(pool.niceIncrement, 5);
    assert.equal(Supervisor.checkChildSpecs(tree.children), undefined);
  });

  it('a bad tasks.pool.maxQueue is a configuration error naming its key, line and column', () => {
    const problem = onlyProblem(() => checkConfigText('tether.yaml', 'tasks:\n  pool:\n    maxQueue: -1\n'));
    assert.deepEqual(problem.source === 'file' ? [problem.key, problem.line, problem.column] : problem, [
      'tasks.pool.maxQueue',
      3,
      5,
    ]);
  });
});

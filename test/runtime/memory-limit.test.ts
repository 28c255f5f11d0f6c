/**
 * What an actor's memory limit (resourceLimits.maxOldGenerationSizeMb) contains,
 * and what it cannot (docs/decisions/0012-memory-limit-containment.md): Node
 * lets a worker's heap run 16 MB past its limit while the worker is ended; a
 * heap that is past even that after a collection aborts the whole process
 * (nodejs/node#47224), which nothing on our side can catch.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { PROBE_MODULE } from '../fixtures/probe.js';
import { EventLog, probe, withDeadline, withSystem } from '../helpers.js';

const LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 };
/** A slow heartbeat: the collector near the limit must not pass for a hang. */
const PATIENT = { intervalMs: 1000, timeoutMs: 20_000 };

describe('an actor past its memory limit', () => {
  it('a single allocation past the limit (within the 16 MB Node allows) ends that actor alone, as oom, while a sibling keeps answering', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('greedy', { resourceLimits: LIMITS, heartbeat: PATIENT }), probe('sibling')],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const sibling = system.ref<ProbeApi>('sibling');
      // 36 MB in one array: past the 32 MB limit, and with the actor's own few MB within 32 + 16.
      await system.ref<ProbeApi>('greedy').call('allocateOnce', 36);
      const exited = log.waitFor('child-exited', (e) => e.childId === 'greedy', 30_000);
      let answers = 0;
      let settled = false;
      void exited.finally(() => (settled = true)).catch(() => undefined);
      while (!settled) answers = (await sibling.call('add', 1)) as number;
      assert.equal((await exited).reason.kind, 'oom');
      await log.waitFor('child-restarted', (e) => e.childId === 'greedy');
      assert.equal(await sibling.call('add', 1), answers + 1);
      assert.deepEqual(await sibling.call('whoami'), { id: 'sibling', incarnation: 1 });
      assert.equal(log.of('child-exited').length, 1, 'only the greedy actor exited');
      await sup.stop();
    }));

  it('a typed array larger than the limit does not count against it: the actor lives on', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        children: [probe('buffers', { resourceLimits: LIMITS, heartbeat: PATIENT })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      const actor = system.ref<ProbeApi>('buffers');
      assert.equal(await actor.call('allocateOffHeap', 64), 64 * 1024 * 1024);
      assert.deepEqual(await actor.call('whoami'), { id: 'buffers', incarnation: 1 });
      assert.equal(log.of('child-exited').length, 0);
      await sup.stop();
    }));

  it('a single allocation past the limit and the 16 MB still aborts the whole process (nodejs/node#47224; if this fails, Node fixed it: revisit decision 0012)', async () => {
    const runtime = new URL('../../runtime/index.js', import.meta.url).href;
    const spec = {
      id: 'greedy',
      kind: 'worker',
      module: PROBE_MODULE,
      resourceLimits: LIMITS,
      heartbeat: PATIENT,
    };
    const script = `
import { ActorSystem } from ${JSON.stringify(runtime)};
const system = new ActorSystem({});
await system.spawn({ startTimeoutMs: 30_000, ...${JSON.stringify(spec)} });
await system.ref('greedy').call('allocateOnce', 96);
console.log('allocating');
setTimeout(() => { console.log('survived'); process.exit(0); }, 20_000);
`;
    // A file, not --input-type=module -e: workers inherit the process's execArgv.
    const dir = await mkdtemp(join(tmpdir(), 'tether-oom-'));
    const file = join(dir, 'abort.mjs');
    await writeFile(file, script);
    // No core file: the abort is expected.
    const child = spawn('sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', process.execPath, file], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code, signal] = await withDeadline(
      new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
      ),
      60_000,
      'the child process',
    ).finally(async () => {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    });
    assert.ok(stdout.includes('allocating'), `the actor was reached: ${stdout}`);
    assert.deepEqual({ code, signal }, { code: null, signal: 'SIGABRT' });
  });
});

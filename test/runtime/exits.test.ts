import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { ActorRef, ExitReason } from '../../runtime/index.js';
import { Supervisor } from '../../supervisors/index.js';
import type { ProbeApi } from '../fixtures/probe.js';
import { EventLog, probe, withDeadline, withSystem } from '../helpers.js';

/** Starts one probe under a one_for_one root, runs `trigger`, and returns the reason of its first exit. */
async function exitReasonOf(
  trigger: (a: ActorRef<ProbeApi>) => Promise<unknown>,
  extra: Parameters<typeof probe>[1] = {},
): Promise<{ reason: ExitReason; incarnationAfter: number }> {
  return withSystem(async (system) => {
    const sup = new Supervisor(system, {
      id: 'root',
      flags: { intensity: 5 },
      children: [probe('a', extra)],
    });
    const log = new EventLog(sup.events);
    await sup.start();
    const a = system.ref<ProbeApi>('a');
    await trigger(a);
    const exited = await log.waitFor('child-exited');
    await log.waitFor('child-restarted');
    const after = (await a.call('whoami')).incarnation;
    await sup.stop();
    return { reason: exited.reason, incarnationAfter: after };
  });
}

describe('exit reasons the runtime tells apart', () => {
  it('an uncaught exception is a crash carrying the error, and the actor is restarted', async () => {
    const { reason, incarnationAfter } = await exitReasonOf((a) => a.call('crashSoon', 'kaboom'));
    assert.equal(reason.kind, 'crash');
    assert.ok(reason.kind === 'crash');
    assert.equal(reason.origin, 'uncaughtException');
    assert.equal(reason.error.message, 'kaboom');
    assert.equal(reason.error.code, 'E_PROBE_CRASH');
    assert.equal(incarnationAfter, 2);
  });

  it('an unhandled rejection is a crash too', async () => {
    const { reason } = await exitReasonOf((a) => a.call('rejectUnhandled'));
    assert.ok(reason.kind === 'crash');
    assert.equal(reason.origin, 'unhandledRejection');
    assert.equal(reason.error.code, 'E_PROBE_REJECT');
  });

  it('process.exit() inside the worker is reported with its code', async () => {
    const { reason } = await exitReasonOf((a) => a.call('processExit', 3));
    assert.deepEqual(reason, { kind: 'process-exit', code: 3 });
  });

  it('running out of the memory limit is an out-of-memory exit of that actor only', async () => {
    const { reason, incarnationAfter } = await exitReasonOf((a) => a.call('exhaustMemory'), {
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
      heartbeat: { intervalMs: 1000, timeoutMs: 10_000 },
    });
    assert.equal(reason.kind, 'oom');
    assert.equal(incarnationAfter, 2);
  });

  it('a busy loop (while(true)) misses its heartbeat, is terminated, and exits as hung', async () => {
    const { reason, incarnationAfter } = await exitReasonOf((a) => a.call('hang'), {
      heartbeat: { intervalMs: 100, timeoutMs: 250 },
    });
    assert.deepEqual(reason, { kind: 'hung', timeoutMs: 250 });
    assert.equal(incarnationAfter, 2);
  });

  it("an injected crash or hang looks like the actor's own: crash, then hung", () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [probe('a', { heartbeat: { intervalMs: 100, timeoutMs: 250 } })],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.equal(system.injectFault('a', 'crash'), true);
      const crashed = await log.waitFor('child-exited');
      assert.equal(crashed.reason.kind, 'crash');
      await log.waitFor('child-restarted');
      assert.equal(system.injectFault('a', 'hang'), true);
      const hung = await log.waitFor('child-exited', () => true, 10_000, 2);
      assert.equal(hung.reason.kind, 'hung');
      assert.equal(system.injectFault('nobody', 'crash'), false);
      await sup.stop();
    }));

  it('an injected out-of-memory ends the actor at its memory limit as oom, and it is restarted', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, {
        id: 'root',
        flags: { intensity: 5 },
        children: [
          probe('a', {
            resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
            heartbeat: { intervalMs: 1000, timeoutMs: 10_000 },
          }),
        ],
      });
      const log = new EventLog(sup.events);
      await sup.start();
      assert.equal(system.injectFault('a', 'oom'), true);
      const exited = await log.waitFor('child-exited', () => true, 20_000);
      assert.equal(exited.reason.kind, 'oom');
      await log.waitFor('child-restarted');
      assert.deepEqual(await system.ref<ProbeApi>('a').call('whoami'), { id: 'a', incarnation: 2 });
      await sup.stop();
    }));

  it('a crash in one actor leaves its siblings untouched under one_for_one', () =>
    withSystem(async (system) => {
      const sup = new Supervisor(system, { id: 'root', children: [probe('a'), probe('b')] });
      const log = new EventLog(sup.events);
      await sup.start();
      const b = system.ref<ProbeApi>('b');
      await b.call('add', 10);
      await system.ref<ProbeApi>('a').call('crashSoon', 'x');
      await log.waitFor('child-restarted');
      assert.equal(await b.call('add', 1), 11);
      assert.deepEqual(await b.call('whoami'), { id: 'b', incarnation: 1 });
      await sup.stop();
    }));
});

describe('actor output', () => {
  it("what an actor prints reaches the logs tagged with the actor's id", async () => {
    let resolveLine!: (line: Record<string, unknown>) => void;
    const printed = new Promise<Record<string, unknown>>((resolve) => (resolveLine = resolve));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) {
          const line = JSON.parse(text) as Record<string, unknown>;
          if (line['msg'] === 'hello from the worker') resolveLine(line);
        }
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    await withSystem(
      async (system) => {
        const sup = new Supervisor(system, { id: 'root', children: [probe('printer')] });
        await sup.start();
        await system.ref<ProbeApi>('printer').call('print', 'hello from the worker');
        const line = await withDeadline(printed, 5000, 'the printed line in the logs');
        assert.equal(line['actor'], 'printer');
        assert.equal(line['stream'], 'stdout');
        await sup.stop();
      },
      { logger },
    );
  });
});

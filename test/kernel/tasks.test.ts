/**
 * Tracked tasks end to end: the real service (actors in worker threads, the
 * piscina pool), the HTTP API, and the simulator over TCP. Each case of the
 * issue's list: every status transition, abort of a queued and of a running
 * task, a full queue, rejection by phase and by autoconnecting, an actor
 * restarted and a link dropped mid-restore, reboot and firmware update end
 * to end (and one whose reconnection never comes), and a backup saved then
 * loaded into an empty controller.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SIM_NEXT_FIRMWARE } from '../../sim/index.js';
import type { TaskView } from '../../tasks/index.js';
import { EventStream, codeOf, withApi } from '../http/fixture.js';
import { DEVICE_ID, backupText, progressOf, statusOf, submit, upload } from './task-helpers.js';

/** Slow enough answers that a restore of a few hundred blocks takes seconds: room to act in the middle. */
const SLOW_SIM = { responseDelayMs: 10 };

/**
 * A restore that is still running whatever the machine's speed, for the tests that need one
 * running while they act (and abort it at the end): at 10 ms an answer, at least 30 s.
 */
const LONG_RESTORE_BLOCKS = 3000;

describe('tasks against the simulator over TCP', () => {
  it('a backup save goes QUEUED, IN_PROGRESS and COMPLETED on the event stream, with progress and a result naming the file and its SHA-256', () =>
    withApi(async ({ phases, call, api }) => {
      await phases.waitFor('Synchronized');
      for (const name of ['fridge', 'heater']) {
        assert.equal(
          (await call('POST', '/api/blocks', { body: { name, type: 'TempSensor', data: { v: 1 } } })).status,
          201,
        );
      }
      const stream = await EventStream.open(api.address.url);
      try {
        const { answer, task } = await submit(call, 'backup.save', { name: 'nightly.json' });
        assert.equal(answer.status, 202);
        assert.equal(answer.headers.get('location'), `/api/tasks/${task.id}`);
        const done = await stream.waitFor('task', (data) => isTask(data, task.id, 'COMPLETED'), 20_000);
        const statuses = stream.events
          .filter(
            (e) =>
              e.event === 'task' &&
              (e.data['task'] as TaskView).id === task.id &&
              e.data['change'] === 'status',
          )
          .map((e) => (e.data['task'] as TaskView).status);
        assert.deepEqual(statuses, ['QUEUED', 'IN_PROGRESS', 'COMPLETED']);
        assert.ok(stream.events.some((e) => e.event === 'task' && e.data['change'] === 'progress'));
        const result = (done.data['task'] as TaskView).result as {
          name: string;
          blockCount: number;
          sha256: string;
        };
        assert.equal(result.name, 'nightly.json');
        assert.equal(result.blockCount, 2);
        const file = await fetch(new URL('/api/backups/nightly.json', api.address.url));
        const bytes = Buffer.from(await file.arrayBuffer());
        assert.equal(createHash('sha256').update(bytes).digest('hex'), result.sha256);
        const listed = await call('GET', '/api/backups');
        assert.deepEqual(
          (listed.json['backups'] as Array<{ name: string }>).map((b) => b.name),
          ['nightly.json'],
        );
      } finally {
        stream.close();
      }
    }));

  it('a backup saved, then loaded into an empty simulator, gives the same blocks and names', async () => {
    let saved = '';
    let before: unknown[] = [];
    await withApi(
      async ({ phases, call, service }) => {
        await phases.waitFor('Synchronized');
        for (const [name, type, data] of [
          ['fridge', 'TempSensor', { value: 4.5, unit: 'C' }],
          ['heater', 'Pwm', { duty: 30, nested: { a: [1, 2] } }],
          ['beer', 'TempSensor', { value: 19 }],
        ] as const) {
          await call('POST', '/api/blocks', { body: { name, type, data } });
        }
        before = (await call('GET', '/api/blocks')).json['blocks'] as unknown[];
        const { task } = await submit(call, 'backup.save', { name: 'copy.json' });
        await statusOf(service.tasks.tracker, task.id, 'COMPLETED');
        saved = Buffer.from(await service.tasks.backups.fetch('copy.json')).toString('utf8');
      },
      { sim: { capacity: 500 } },
    );
    await withApi(
      async ({ phases, call, service, sim }) => {
        await phases.waitFor('Synchronized');
        assert.equal((await call('GET', '/api/blocks')).json['blocks'] instanceof Array, true);
        assert.equal((await upload(call, 'copy.json', saved)).status, 201);
        const { task } = await submit(call, 'backup.load', { name: 'copy.json' });
        const done = await statusOf(service.tasks.tracker, task.id, 'COMPLETED');
        assert.equal((done.result as { written: number }).written, 3);
        const after = (await call('GET', '/api/blocks')).json['blocks'] as unknown[];
        // The system blocks hold the controller's own clock and trace: compare the user blocks.
        const user = (blocks: unknown[]): unknown[] => blocks.filter((b) => (b as { id: number }).id > 99);
        assert.deepEqual(user(after), user(before));
        assert.equal(sim.stats.resets, 0);
      },
      { sim: { capacity: 500 } },
    );
  });

  it('a restore aborted while running stops between blocks, ABORTED within 1 s, its result saying what it wrote', () =>
    withApi(
      async ({ phases, call, service }) => {
        await phases.waitFor('Synchronized');
        await upload(call, 'big.json', backupText(300));
        const { task } = await submit(call, 'backup.load', { name: 'big.json' });
        await progressOf(service.tasks.tracker, task.id, 30);
        const asked = performance.now();
        const answer = await call('DELETE', `/api/tasks/${task.id}`);
        assert.equal(answer.status, 200);
        const aborted = await statusOf(service.tasks.tracker, task.id, 'ABORTED');
        assert.ok(
          performance.now() - asked < 1000,
          `ABORTED after ${Math.round(performance.now() - asked)} ms`,
        );
        const result = aborted.result as {
          written: number;
          writtenIds: number[];
          stoppedAt: number;
          blocks: number;
        };
        assert.equal(result.blocks, 300);
        assert.ok(result.written > 0 && result.written < 300, `wrote ${result.written}`);
        const blocks = (await call('GET', '/api/blocks')).json['blocks'] as Array<{
          id: number;
          name: string;
        }>;
        assert.deepEqual(
          blocks.filter((b) => b.id > 99).map((b) => b.id),
          result.writtenIds,
        );
      },
      { sim: { capacity: 500, faults: SLOW_SIM } },
    ));

  it('a task aborted while queued is ABORTED at once and never runs; one past the queue bound is REJECTED with 429', () =>
    withApi(
      async ({ phases, call, service }) => {
        await phases.waitFor('Synchronized');
        await upload(call, 'big.json', backupText(LONG_RESTORE_BLOCKS));
        const restore = (await submit(call, 'backup.load', { name: 'big.json' })).task;
        await statusOf(service.tasks.tracker, restore.id, 'IN_PROGRESS');
        const queued = await submit(call, 'backup.save', { name: 'later.json' });
        assert.equal(queued.task.status, 'QUEUED');
        const full = await submit(call, 'backup.save', { name: 'too-many.json' });
        assert.equal(full.answer.status, 429);
        assert.equal(codeOf(full.answer), 'TETHER_TASK_QUEUE_FULL');
        assert.equal(full.task.status, 'REJECTED');
        const aborted = await call('DELETE', `/api/tasks/${queued.task.id}`);
        assert.equal((aborted.json['task'] as TaskView).status, 'ABORTED');
        const lists = (await call('GET', '/api/tasks')).json as Record<string, TaskView[]>;
        assert.deepEqual(
          lists['executing']!.map((t) => t.id),
          [restore.id],
        );
        assert.deepEqual(lists['finished']!.map((t) => t.status).sort(), ['ABORTED', 'REJECTED']);
        await call('POST', '/api/tasks/abort');
        await statusOf(service.tasks.tracker, restore.id, 'ABORTED');
        // The queued save never ran: no file.
        assert.equal(
          (await service.tasks.backups.list()).some((b) => b.name === 'later.json'),
          false,
        );
        assert.equal((await call('GET', '/api/tasks/no-such-task')).status, 404);
      },
      {
        sim: { capacity: LONG_RESTORE_BLOCKS + 100, faults: SLOW_SIM },
        config: { tasks: { maxQueued: 1 } },
      },
    ));

  it('tasks are REJECTED at once by another exclusive task, by autoconnecting off and by the phase', () =>
    withApi(
      async ({ phases, call, service }) => {
        await phases.waitFor('Synchronized');
        await upload(call, 'big.json', backupText(LONG_RESTORE_BLOCKS));
        const restore = (await submit(call, 'backup.load', { name: 'big.json' })).task;
        const busy = await submit(call, 'reboot');
        assert.equal(busy.answer.status, 409);
        assert.equal(codeOf(busy.answer), 'TETHER_TASK_EXCLUSIVE_BUSY');
        await call('DELETE', `/api/tasks/${restore.id}`);
        await statusOf(service.tasks.tracker, restore.id, 'ABORTED');

        await call('PUT', '/api/autoconnecting', { body: { enabled: false } });
        const off = await submit(call, 'reboot');
        assert.equal(off.answer.status, 409);
        assert.equal(codeOf(off.answer), 'TETHER_AUTOCONNECT_OFF');

        const mark = phases.mark();
        await call('POST', '/api/reconnect');
        await phases.waitFor('Disconnected', 10_000, mark);
        const down = await submit(call, 'backup.save');
        assert.equal(down.answer.status, 409);
        assert.equal(codeOf(down.answer), 'TETHER_NOT_READY');
        assert.equal((await call('GET', `/api/tasks/${down.task.id}`)).json['task'] !== undefined, true);
        const bad = await call('POST', '/api/tasks', { body: { kind: 'dance' } });
        assert.equal(bad.status, 400);
        assert.equal(codeOf(bad), 'TETHER_UNKNOWN_TASK_KIND');
        const badArgs = await call('POST', '/api/tasks', {
          body: { kind: 'backup.load', args: { name: '../etc/passwd' } },
        });
        assert.equal(codeOf(badArgs), 'TETHER_INVALID_TASK_ARGS');
      },
      { sim: { capacity: LONG_RESTORE_BLOCKS + 100, faults: SLOW_SIM } },
    ));

  it('a commander that crashes mid-restore fails the restore, whose result says what it had written', () =>
    withApi(
      async ({ phases, call, service }) => {
        await phases.waitFor('Synchronized');
        await upload(call, 'big.json', backupText(300));
        const { task } = await submit(call, 'backup.load', { name: 'big.json' });
        await progressOf(service.tasks.tracker, task.id, 30);
        const mark = phases.mark();
        // A real crash of the commander's thread (an uncaught exception), restarted by its supervisor.
        assert.equal(service.system.injectFault('commander', 'crash'), true);
        const failed = await statusOf(service.tasks.tracker, task.id, 'FAILED');
        assert.ok(
          ['TETHER_ACTOR_DOWN', 'TETHER_LINK_LOST', 'TETHER_NOT_READY'].includes(failed.problem!.code),
          failed.problem!.code,
        );
        const result = failed.result as { written: number; stoppedAt: number };
        assert.ok(result.written > 0 && result.written < 300, `wrote ${result.written}`);
        // The service goes on: the commander is back, the link with it, and the next task runs.
        await phases.waitFor('Synchronized', 20_000, mark);
        const next = (await submit(call, 'backup.save', { name: 'after.json' })).task;
        await statusOf(service.tasks.tracker, next.id, 'COMPLETED', 30_000);
      },
      { sim: { capacity: 500, faults: SLOW_SIM } },
    ));

  it('a link dropped mid-restore fails the restore with what it had written, and blocks the controller refuses are errors in the result', () =>
    withApi(
      async ({ phases, call, service, sim }) => {
        await phases.waitFor('Synchronized');
        // Capacity 50: of 60 blocks, 10 get INSUFFICIENT_STORAGE and the restore goes on.
        await upload(call, 'small.json', backupText(60));
        const first = (await submit(call, 'backup.load', { name: 'small.json' })).task;
        const done = await statusOf(service.tasks.tracker, first.id, 'COMPLETED');
        const outcome = done.result as {
          written: number;
          errorCount: number;
          errors: Array<{ code: string }>;
        };
        assert.equal(outcome.written, 50);
        assert.equal(outcome.errorCount, 10);
        assert.ok(outcome.errors.every((e) => e.code === 'INSUFFICIENT_STORAGE'));
        const status = await call('GET', '/api/status');
        assert.equal((status.json['component'] as { storage: { errors: number } }).storage.errors, 10);

        const second = (await submit(call, 'backup.load', { name: 'small.json' })).task;
        await progressOf(service.tasks.tracker, second.id, 40);
        sim.faults.drop();
        const failed = await statusOf(service.tasks.tracker, second.id, 'FAILED');
        assert.ok(
          ['TETHER_LINK_LOST', 'TETHER_NOT_READY'].includes(failed.problem!.code),
          failed.problem!.code,
        );
        const cut = failed.result as { written: number; stoppedAt: number };
        assert.ok(cut.written > 0 && cut.written < 50, `wrote ${cut.written}`);
      },
      { sim: { capacity: 50, faults: SLOW_SIM } },
    ));

  it('a backup of another controller is refused unless forced, and a file that is not a backup is FAILED with why', () =>
    withApi(async ({ phases, call, service }) => {
      await phases.waitFor('Synchronized');
      await upload(call, 'other.json', backupText(3, { deviceId: 'abcdefabcdefabcdefabcdef' }));
      const refused = (await submit(call, 'backup.load', { name: 'other.json' })).task;
      const failed = await statusOf(service.tasks.tracker, refused.id, 'FAILED');
      assert.equal(failed.problem?.code, 'TETHER_BACKUP_WRONG_DEVICE');
      const forced = (await submit(call, 'backup.load', { name: 'other.json', force: true })).task;
      const done = await statusOf(service.tasks.tracker, forced.id, 'COMPLETED');
      assert.equal((done.result as { warnings: string[] }).warnings.length, 1);

      await upload(call, 'old.json', backupText(3, { protoVersion: 'deadbeef' }));
      const old = (await submit(call, 'backup.validate', { name: 'old.json' })).task;
      assert.equal(
        (await statusOf(service.tasks.tracker, old.id, 'FAILED')).problem?.code,
        'TETHER_BACKUP_INCOMPATIBLE',
      );

      // Valid JSON that says it holds 5 blocks and holds 3: cut short.
      const cutShort = JSON.parse(backupText(5)) as { blocks: unknown[] };
      cutShort.blocks = cutShort.blocks.slice(0, 3);
      await upload(call, 'cut.json', JSON.stringify(cutShort));
      const cut = (await submit(call, 'backup.validate', { name: 'cut.json' })).task;
      assert.equal(
        (await statusOf(service.tasks.tracker, cut.id, 'FAILED')).problem?.code,
        'TETHER_BACKUP_INVALID',
      );
      const missing = (await submit(call, 'backup.load', { name: 'missing.json' })).task;
      assert.equal(
        (await statusOf(service.tasks.tracker, missing.id, 'FAILED')).problem?.code,
        'TETHER_BACKUP_NOT_FOUND',
      );
      assert.equal(codeOf(await upload(call, 'notjson.json', 'hello')), 'TETHER_BACKUP_INVALID');
      assert.equal(DEVICE_ID.length, 24);
    }));

  it('a reboot ends Synchronized again with the reboot’s reset reason, the service never exiting', () =>
    withApi(async ({ phases, call, service }) => {
      await phases.waitFor('Synchronized');
      const generation = service.kernel.state.phase.generation;
      let exited = false;
      void service.exited.then(() => (exited = true));
      const { answer, task } = await submit(call, 'reboot');
      assert.equal(answer.status, 202);
      const done = await statusOf(service.tasks.tracker, task.id, 'COMPLETED', 30_000);
      const result = done.result as { passed: string[]; resetReason: string; generation: number };
      assert.deepEqual(result.passed, ['command', 'disconnect', 'reconnect', 'synchronize']);
      assert.equal(result.resetReason, 'USER');
      assert.ok(result.generation > generation);
      const status = (await call('GET', '/api/status')).json;
      assert.equal(status['communication'], 'ESTABLISHED');
      assert.equal((status['component'] as { reset: { reasonName: string } }).reset.reasonName, 'USER');
      assert.equal(exited, false);
    }));

  it('a firmware update ends Synchronized with the new firmware, without a service restart; a failed one is FAILED', () =>
    withApi(async ({ phases, call, service, api, sim }) => {
      await phases.waitFor('Synchronized');
      const stream = await EventStream.open(api.address.url);
      try {
        const { task } = await submit(call, 'firmware.update');
        const done = await statusOf(service.tasks.tracker, task.id, 'COMPLETED', 30_000);
        const result = done.result as {
          passed: string[];
          firmwareVersion: string;
          previousFirmwareVersion: string;
        };
        assert.deepEqual(result.passed, ['command', 'updater', 'disconnect', 'reconnect', 'synchronize']);
        assert.equal(result.firmwareVersion, SIM_NEXT_FIRMWARE.firmwareVersion);
        assert.notEqual(result.previousFirmwareVersion, result.firmwareVersion);
        await stream.waitFor('component', (data) => (data['report'] as { kind: string }).kind === 'updater');
        const status = (await call('GET', '/api/status')).json;
        assert.equal(
          (status['device'] as { handshake: { firmwareVersion: string } }).handshake.firmwareVersion,
          SIM_NEXT_FIRMWARE.firmwareVersion,
        );
        assert.equal((status['component'] as { updater: unknown }).updater, null);
      } finally {
        stream.close();
      }
      sim.faults.nextFirmware = { firmwareVersion: '0badf00d' };
      sim.faults.updateFails = true;
      const failing = (await submit(call, 'firmware.update')).task;
      const failed = await statusOf(service.tasks.tracker, failing.id, 'FAILED', 30_000);
      assert.equal(failed.problem?.code, 'TETHER_FIRMWARE_MISMATCH');
      await phases.waitFor('Synchronized', 20_000, phases.changes.length);
    }));

  it('a reboot whose controller never answers again is FAILED naming the state, and the service goes on', () =>
    withApi(
      async ({ phases, call, service, sim }) => {
        await phases.waitFor('Synchronized');
        // The controller reboots and comes back mute: links open, no handshake ever comes.
        const off = sim.onRequest((request) => {
          if (request.opcode === 'REBOOT') setImmediate(() => (sim.faults.silent = true));
        });
        const { task } = await submit(call, 'reboot');
        const failed = await statusOf(service.tasks.tracker, task.id, 'FAILED', 30_000);
        off();
        assert.equal(failed.problem?.code, 'TETHER_TASK_STATE_TIMEOUT');
        const result = failed.result as { passed: string[]; state: string; failures: Record<string, number> };
        assert.equal(result.state, 'reconnect');
        assert.deepEqual(result.passed, ['command', 'disconnect']);
        assert.equal(result.failures['reconnect'], 2);
        sim.faults.silent = false;
        await phases.waitFor('Synchronized', 20_000, phases.changes.length);
        assert.equal(service.root.state, 'running');
      },
      {
        config: {
          tasks: {
            kinds: {
              reboot: { states: { reconnect: { timeoutMs: 1500, retries: 1 } } },
            },
          },
        },
      },
    ));
});

function isTask(data: Record<string, unknown>, id: string, status: string): boolean {
  const task = data['task'] as TaskView | undefined;
  return task?.id === id && task.status === status;
}

/**
 * The device service end to end: real simulator, real sockets and ptys, the
 * four actors in real worker threads under the real tree. Timings are the
 * FAST ones of the harness; bounds asserted here are wide on purpose.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommanderApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import { TetherError } from '../../runtime/index.js';
import { withService } from './harness.js';

describe('the device service, end to end', () => {
  it('reaches Synchronized over TCP, one phase at a time', () =>
    withService(async ({ phases, service }) => {
      const synced = await phases.waitFor('Synchronized');
      assert.deepEqual(
        phases.changes.map((c) => c.to.name),
        ['Connected', 'Acknowledged', 'Synchronized'],
      );
      assert.equal(synced.to.generation, 1);
      const phase = service.kernel.state.phase;
      assert.ok(phase.name === 'Synchronized');
      assert.equal(phase.ack.handshake.deviceId, '123456789012345678901234');
      assert.equal(phase.connection.kind, 'tcp');
    }));

  it('reaches Synchronized over a serial pseudo-terminal', () =>
    withService(
      async ({ phases, service }) => {
        await phases.waitFor('Synchronized', 15_000);
        const phase = service.kernel.state.phase;
        assert.ok(phase.name === 'Synchronized');
        assert.equal(phase.connection.kind, 'serial');
      },
      { pty: true },
    ));

  it('a command goes through commander and connection to the controller and back', () =>
    withService(async ({ phases, service }) => {
      await phases.waitFor('Synchronized');
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      const created = (await commander.call('request', 'BLOCK_CREATE', {
        type: 'TempSensor',
        data: { value: 20.5 },
      })) as { id: number; type: string };
      assert.equal(created.type, 'TempSensor');
      const read = (await commander.call('request', 'BLOCK_READ', { id: created.id })) as unknown as {
        data: { value: number };
      };
      assert.equal(read.data.value, 20.5);
    }));

  it('a silent controller is noticed by the watchdog, and the service is Synchronized again once it answers', () =>
    withService(async ({ phases, sim }) => {
      await phases.waitFor('Synchronized');
      const mark = phases.mark();
      const silencedAt = Date.now();
      sim.faults.silent = true;
      await phases.waitFor('Disconnected', 10_000, mark);
      // idleMs 1000 + timeoutMs 1000 in the test config, and no other traffic: only the watchdog
      // can notice, within a wide bound of that.
      assert.ok(Date.now() - silencedAt < 6000, `noticed after ${Date.now() - silencedAt} ms`);
      sim.faults.silent = false;
      await phases.waitFor('Synchronized', 10_000, mark);
    }));

  for (const transport of ['tcp', 'pty'] as const) {
    it(`a controller reset over ${transport} leads to a new handshake and sync, back to Synchronized`, () =>
      withService(
        async ({ phases, sim }) => {
          await phases.waitFor('Synchronized', 15_000);
          const mark = phases.mark();
          // Watchdog reset: TCP connections are reset; on serial a new handshake arrives on the open line.
          sim.faults.reset();
          await phases.waitFor('Disconnected', 10_000, mark);
          const again = await phases.waitFor('Synchronized', 10_000, mark);
          assert.ok(again.to.name === 'Synchronized');
          assert.equal(again.to.ack.handshake.resetReason, '3C');
          assert.ok(again.to.generation > 1);
        },
        { pty: transport === 'pty' },
      ));
  }

  it('line noise does not bring anything down: the service stays up or recovers', () =>
    withService(async ({ phases, sim, service }) => {
      await phases.waitFor('Synchronized');
      const mark = phases.mark();
      sim.faults.noise(5000);
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      // Keep some traffic going; failures during the noise are fine, a hang or a crash is not.
      for (let i = 0; i < 5; i += 1) {
        await commander.call('request', 'BLOCK_LIST', undefined).catch(() => undefined);
      }
      if (phases.current !== 'Synchronized') await phases.waitFor('Synchronized', 10_000, mark);
      assert.equal(service.kernel.state.phase.name, 'Synchronized');
      assert.equal(
        service.root.whichChildren().every((c) => c.status === 'running'),
        true,
      );
    }));

  it('listening mode disconnects, then the service reconnects', () =>
    withService(
      async ({ phases, sim }) => {
        await phases.waitFor('Synchronized');
        const mark = phases.mark();
        sim.faults.enterSetupMode();
        // The watchdog is set far off here: only the listening-mode event can disconnect in time.
        await phases.waitFor('Disconnected', 10_000, mark);
        sim.faults.leaveSetupMode();
        await phases.waitFor('Synchronized', 10_000, mark);
      },
      { config: { watchdog: { idleMs: 60_000 } } },
    ));

  it('an incompatible proto_version stays Acknowledged with firmwareError, without a reconnect loop', () =>
    withService(
      async ({ phases, service }) => {
        const ack = await phases.waitFor('Acknowledged');
        assert.ok(ack.to.name === 'Acknowledged');
        assert.equal(ack.to.ack.firmwareError, 'INCOMPATIBLE');
        // Give a reconnect loop every chance to show itself: it must not.
        const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
        await assert.rejects(commander.call('request', 'BLOCK_LIST', undefined), (e: unknown) =>
          TetherError.is(e, 'TETHER_NOT_READY'),
        );
        await new Promise((resolve) => setTimeout(resolve, 1500));
        assert.deepEqual(
          phases.changes.map((c) => c.to.name),
          ['Connected', 'Acknowledged'],
        );
      },
      // No reconnect loop means no phase change at all: a check that a busy machine answers in over
      // a second must not drop the link either.
      { sim: { protoVersion: 'deadbeef' }, config: { watchdog: { timeoutMs: 10_000 } } },
    ));

  it('a wrong device id stays Acknowledged with identityError', () =>
    withService(
      async ({ phases }) => {
        const ack = await phases.waitFor('Acknowledged');
        assert.ok(ack.to.name === 'Acknowledged');
        assert.equal(ack.to.ack.identityError, 'WRONG_DEVICE');
      },
      { config: { device: { id: 'aaaaaaaaaaaaaaaaaaaaaaaa' } } },
    ));

  for (const actor of ['connection', 'commander', 'synchronization', 'watchdog'] as const) {
    for (const fault of ['crash', 'hang'] as const) {
      it(`${actor} ${fault === 'crash' ? 'crashing' : 'hanging'}: the tree recovers and the service is Synchronized again`, () =>
        withService(
          async ({ phases, service, sim }) => {
            await phases.waitFor('Synchronized');
            const mark = phases.mark();
            const exited = new Promise<string>((resolve) =>
              service.root.events.subscribe((event) => {
                if (event.type === 'child-exited' && event.childId === actor) resolve(event.reason.kind);
              }),
            );
            const restarted = new Promise<void>((resolve) =>
              service.root.events.subscribe((event) => {
                if (event.type === 'child-started' && event.childId === actor && event.incarnation >= 2)
                  resolve();
              }),
            );
            assert.equal(service.system.injectFault(actor, fault), true);
            const reason = await Promise.race([
              exited,
              new Promise<string>((_, reject) =>
                setTimeout(() => reject(new Error('no exit event')), 10_000),
              ),
            ]);
            assert.equal(reason, fault === 'crash' ? 'crash' : 'hung');
            if (actor === 'watchdog') {
              // The link is untouched; the new watchdog must do its job: notice a silent controller.
              await restarted;
              assert.equal(service.kernel.state.phase.name, 'Synchronized');
              const silentMark = phases.mark();
              sim.faults.silent = true;
              await phases.waitFor('Disconnected', 10_000, silentMark);
              sim.faults.silent = false;
              await phases.waitFor('Synchronized', 15_000, silentMark);
            } else {
              await phases.waitFor('Disconnected', 10_000, mark);
              await phases.waitFor('Synchronized', 15_000, mark);
            }
            assert.equal(service.kernel.state.phase.name, 'Synchronized');
          },
          {
            config: {
              supervision: {
                children: { [actor]: { heartbeat: { intervalMs: 200, timeoutMs: 600 } } },
              },
            },
          },
        ));
    }
  }

  it('a command in flight when its connection dies settles with an error', () =>
    withService(async ({ phases, sim, service }) => {
      await phases.waitFor('Synchronized');
      sim.faults.responseDelayMs = 5000;
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      const inFlight = commander.callWith({ timeoutMs: 30_000 }, 'request', 'BLOCK_LIST', undefined, {
        timeoutMs: 20_000,
      });
      // Let the request reach the controller, then cut the line.
      await new Promise<void>((resolve) => {
        const off = sim.onRequest((request) => {
          if (request.opcode === 'BLOCK_LIST') {
            off();
            resolve();
          }
        });
      });
      const started = Date.now();
      sim.faults.drop();
      const error = await inFlight.catch((e: unknown) => e);
      assert.ok(TetherError.is(error, 'TETHER_LINK_LOST'), String(error));
      assert.ok(Date.now() - started < 5000, 'settled at once, not at its timeout');
    }));

  it('after a timeout whose NONE check fails, every pending command settles and the link drops', () =>
    withService(async ({ phases, sim, service }) => {
      await phases.waitFor('Synchronized');
      const mark = phases.mark();
      sim.faults.silent = true;
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      const pending = Array.from({ length: 10 }, (_, i) =>
        commander.callWith(
          { timeoutMs: 30_000 },
          'request',
          'BLOCK_READ',
          { id: 100 + i },
          { timeoutMs: 1000 },
        ),
      );
      const results = await Promise.allSettled(pending);
      assert.ok(results.every((r) => r.status === 'rejected'));
      for (const r of results) {
        const reason = (r as PromiseRejectedResult).reason as unknown;
        assert.ok(
          TetherError.is(reason, 'TETHER_COMMAND_TIMEOUT') || TetherError.is(reason, 'TETHER_LINK_LOST'),
          String(reason),
        );
      }
      await phases.waitFor('Disconnected', 10_000, mark);
    }));
});

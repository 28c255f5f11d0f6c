import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, SIM_IDENTITY, type Simulator } from '../../../sim/index.js';
import { CHECK_FAILED_REASON } from '../../../actors/commander/commander.js';
import { CommandTimeoutError, ControllerError, LinkLostError } from '../../../contracts/actors.js';
import { eventually, withDeadline } from '../../helpers.js';
import { GENERATION, simRig, type SimRig } from './sim-rig.js';
import type { CommanderSettings } from '../../../actors/commander/commander.js';

async function withSimRig(
  settings: Partial<CommanderSettings>,
  body: (sim: Simulator, rig: SimRig) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0 });
  try {
    const rig = await simRig(sim, settings);
    try {
      await body(sim, rig);
    } finally {
      await rig.close();
    }
  } finally {
    await sim.close();
  }
}

test('against the simulator over TCP, requests get their typed answers and controller errors', async () => {
  await withSimRig({}, async (_sim, { commander }) => {
    const version = await commander.request('VERSION', undefined);
    assert.equal(version.device_id, SIM_IDENTITY.deviceId);
    const created = await commander.request('BLOCK_CREATE', { type: 'TempSensor', data: { value: 21.5 } });
    const reads = await Promise.all(
      Array.from({ length: 50 }, () => commander.request('BLOCK_READ', { id: created.id })),
    );
    assert.ok(reads.every((b) => b.id === created.id && b.type === 'TempSensor'));
    await assert.rejects(commander.request('BLOCK_READ', { id: 60_000 }), (error: unknown) => {
      assert.ok(error instanceof ControllerError);
      assert.equal(error.detail.controllerCode, 'BLOCK_NOT_FOUND');
      return true;
    });
    assert.deepEqual(commander.status(), { pending: 0, sent: 53, timedOut: 0, lateResponses: 0 });
  });
});

test('a slow simulator answer after the timeout is dropped as late', async () => {
  // A check timeout far above the 300 ms answers: on a loaded machine the check must still pass.
  await withSimRig({ checkTimeoutMs: 10_000 }, async (sim, { commander }) => {
    sim.faults.responseDelayMs = 300;
    // The rig is Synchronized, so the timeout also starts a NONE check (answered, slowly, within its 10 s).
    await assert.rejects(commander.request('BLOCK_LIST', undefined, { timeoutMs: 100 }), CommandTimeoutError);
    await eventually(() => commander.status().lateResponses === 1, 10_000, 'the late answer');
    await eventually(() => !commander.stats.checkRunning, 15_000, 'the check to end');
    assert.equal(commander.stats.checksFailed, 0);
  });
});

test('a silent simulator makes the request and then the NONE check time out, and the link is disconnected', async () => {
  await withSimRig({ checkTimeoutMs: 150 }, async (sim, { commander, kernel, disconnected }) => {
    assert.ok(Array.isArray(await commander.request('BLOCK_LIST', undefined)));
    sim.faults.silent = true;
    const started = Date.now();
    const waiting = commander.request('BLOCK_LIST', undefined, { timeoutMs: 60_000 });
    await assert.rejects(commander.request('BLOCK_READ', { id: 2 }, { timeoutMs: 150 }), CommandTimeoutError);
    const asked = await withDeadline(disconnected, 10_000, 'the disconnect request');
    assert.deepEqual(asked, { generation: GENERATION, reason: CHECK_FAILED_REASON });
    // The request with a long timeout failed with the link, not at its own timeout.
    await assert.rejects(waiting, LinkLostError);
    assert.ok(Date.now() - started < 5000);
    assert.equal(kernel.disconnects.length, 1);
    assert.equal(commander.status().pending, 0);
  });
});

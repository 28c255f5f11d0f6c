/**
 * What the simulator learnt for the task tests: a firmware update installs
 * another firmware version (or fails and keeps the old one), and an answer
 * too long for one protocol line is refused with an error code rather than
 * crashing the simulator.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decoded, ResponseFrame } from '../../protocol/index.js';
import { SIM_IDENTITY, SIM_NEXT_FIRMWARE, startSimulator } from '../../sim/index.js';
import type { Simulator, SimulatorOptions } from '../../sim/index.js';
import { Client, deadline } from './client.js';

type Out = Decoded<ResponseFrame>;
const handshake = (o: Out): boolean => o.kind === 'event' && o.event.type === 'handshake';

async function withSim(
  options: SimulatorOptions,
  body: (sim: Simulator, client: Client) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, rebootDelayMs: 5, ...options });
  const client = await Client.tcp(sim.address!.port);
  try {
    await body(sim, client);
  } finally {
    await client.close();
    await sim.close();
  }
}

/** The handshake of a new connection after the controller reset. */
async function nextHandshake(sim: Simulator, client: Client): Promise<Out & { kind: 'event' }> {
  await deadline(client.closed, 3000, 'the link to close');
  const again = await Client.tcp(sim.address!.port);
  try {
    return (await again.waitFor(handshake)) as Out & { kind: 'event' };
  } finally {
    await again.close();
  }
}

test('FIRMWARE_UPDATE announces the firmware it installs, and the controller comes back running it', async () => {
  await withSim({}, async (sim, client) => {
    assert.equal((await client.request({ opcode: 'FIRMWARE_UPDATE' })).error, 'OK');
    const updater = await client.waitFor((o) => o.kind === 'event' && o.event.type === 'firmwareUpdater');
    assert.ok(updater.kind === 'event' && updater.event.type === 'firmwareUpdater');
    assert.equal(updater.event.firmwareVersion, SIM_NEXT_FIRMWARE.firmwareVersion);
    const hs = await nextHandshake(sim, client);
    assert.ok(hs.event.type === 'handshake');
    assert.equal(hs.event.handshake.firmwareVersion, SIM_NEXT_FIRMWARE.firmwareVersion);
    assert.equal(hs.event.handshake.resetReason, '46');
    assert.equal(sim.faults.firmwareVersion, SIM_NEXT_FIRMWARE.firmwareVersion);
  });
});

test('a firmware update that fails leaves the old firmware, with reset reason UPDATE_ERROR', async () => {
  await withSim({}, async (sim, client) => {
    sim.faults.updateFails = true;
    sim.faults.nextFirmware = { firmwareVersion: '0badf00d' };
    assert.equal((await client.request({ opcode: 'FIRMWARE_UPDATE' })).error, 'OK');
    const hs = await nextHandshake(sim, client);
    assert.ok(hs.event.type === 'handshake');
    assert.equal(hs.event.handshake.firmwareVersion, SIM_IDENTITY.firmwareVersion);
    assert.equal(hs.event.handshake.resetReason, '50');
  });
});

test('a BLOCK_LIST too long for one line is answered UNKNOWN_ERROR, and the simulator goes on', async () => {
  await withSim({ capacity: 200 }, async (_sim, client) => {
    for (let n = 0; n < 80; n++) {
      const created = await client.request({
        opcode: 'BLOCK_CREATE',
        payload: { type: 'TempSensor', data: { note: 'x'.repeat(100) } },
      });
      assert.equal(created.error, 'OK');
    }
    assert.equal((await client.request({ opcode: 'BLOCK_LIST' })).error, 'UNKNOWN_ERROR');
    assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
  });
});

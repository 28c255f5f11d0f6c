import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyControlLine, startSimulator } from '../../sim/index.js';

test('control lines set faults and every bad line gets an error reply instead of throwing', async () => {
  const sim = await startSimulator({ port: false });
  try {
    assert.equal(applyControlLine(sim, 'silent on'), 'ok');
    assert.equal(sim.faults.silent, true);
    assert.equal(applyControlLine(sim, 'slow 250'), 'ok');
    assert.equal(sim.faults.responseDelayMs, 250);
    assert.equal(applyControlLine(sim, 'handshake-after-none on'), 'ok');
    assert.equal(applyControlLine(sim, 'annotate on'), 'ok');
    assert.equal(applyControlLine(sim, 'proto-version 0badc0de'), 'ok');
    assert.equal(sim.faults.protoVersion, '0badc0de');
    assert.equal(applyControlLine(sim, 'device-id 999999999999999999999999'), 'ok');
    assert.equal(applyControlLine(sim, 'reset WATCHDOG CBOX_RESET'), 'ok');
    assert.equal(applyControlLine(sim, 'reset 32'), 'ok');
    assert.equal(applyControlLine(sim, 'setup-mode'), 'ok');
    assert.equal(sim.faults.setupMode, true);
    assert.equal(applyControlLine(sim, 'leave-setup-mode'), 'ok');
    assert.equal(applyControlLine(sim, 'log WARN low battery'), 'ok');
    assert.equal(applyControlLine(sim, 'cbox-error 1f'), 'ok');
    assert.equal(applyControlLine(sim, 'noise 10'), 'ok');
    assert.equal(applyControlLine(sim, 'busy block_write BLOCK_READ'), 'ok');
    assert.deepEqual(sim.faults.busyOpcodes, ['BLOCK_WRITE', 'BLOCK_READ']);
    assert.equal(applyControlLine(sim, 'busy off'), 'ok');
    assert.deepEqual(sim.faults.busyOpcodes, []);
    assert.equal(applyControlLine(sim, 'setup-mode-on-connect on'), 'ok');
    assert.equal(sim.faults.setupModeOnConnect, true);
    assert.equal(applyControlLine(sim, 'nested-payload 2000'), 'ok');
    assert.equal(sim.faults.nestedPayloadDepth, 2000);
    assert.equal(applyControlLine(sim, 'respond 12 BUSY'), 'ok');
    assert.equal(applyControlLine(sim, ''), '');
    assert.equal(JSON.parse(applyControlLine(sim, 'status')).silent, true);
    for (const bad of [
      'silent maybe',
      'slow -1',
      'reset XYZ',
      'cbox-error 1',
      'log TRACE x',
      'device-id a,b',
      'busy DANCE',
      'busy',
      'respond 0',
      'nested-payload deep',
      'dance',
    ]) {
      assert.match(applyControlLine(sim, bad), /^error: /);
    }
  } finally {
    await sim.close();
  }
});

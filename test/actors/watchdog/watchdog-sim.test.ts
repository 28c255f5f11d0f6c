import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../../../sim/index.js';
import { silentReason } from '../../../actors/watchdog/watchdog.js';
import { withDeadline } from '../../helpers.js';
import { GENERATION, simRig } from '../commander/sim-rig.js';

test('in real time, the watchdog checks an idle simulator and disconnects it once it goes silent', async () => {
  const sim = await startSimulator({ port: 0 });
  try {
    const rig = await simRig(sim, {}, { idleMs: 100, timeoutMs: 100 });
    try {
      const watchdog = rig.watchdog!;
      // Two answered checks: an idle but present controller is left alone.
      for (let i = 0; i < 2; i++) {
        const facts = await withDeadline(rig.nextReport(), 10_000, 'a watchdog check');
        assert.match(String(facts.lastCheck), /answered/);
      }
      assert.deepEqual(rig.kernel.disconnects, []);
      sim.faults.silent = true;
      const silentFrom = Date.now();
      const asked = await withDeadline(rig.disconnected, 10_000, 'the disconnect request');
      assert.deepEqual(asked, { generation: GENERATION, reason: silentReason(100) });
      // idleMs + timeoutMs (200 ms here) plus slack for a loaded machine: well under the defaults'
      // 8 s, so the configured timings are the ones at work.
      assert.ok(Date.now() - silentFrom < 3000, `noticed after ${Date.now() - silentFrom} ms`);
      assert.equal(watchdog.health().healthy, false);
    } finally {
      await rig.close();
    }
  } finally {
    await sim.close();
  }
});

/**
 * Presence: a service process killed with SIGKILL shows `offline`, its last
 * will, within the broker's keepalive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { running, waitForState, withFleet } from './fleet.js';

describe('presence on the bus', () => {
  it('a member killed with SIGKILL shows offline (its last will) within the broker’s keepalive', () =>
    withFleet([], async ({ observer, start }) => {
      const member = await start('k1', undefined, 2000);
      await observer.waitFor('tether/k1/status', (r) => r.text === 'online', 60_000);
      await waitForState(observer, 'k1', running);
      const killedAt = Date.now();
      member.child.kill('SIGKILL');
      await member.exited;
      // The broker sends the will after 1.5 keepalives (3 s) without a packet; the bound here is wide.
      await observer.waitFor('tether/k1/status', (r) => r.text === 'offline', 20_000);
      assert.ok(Date.now() - killedAt < 20_000);
    }));
});

/**
 * Ordinary protocol errors from a misbehaving controller must not exhaust
 * the service (issue 10, section 2): the real service and the real
 * simulator over TCP, the simulator's faults playing the controller. Bounds
 * asserted here are wide on purpose: they separate "bounded" from "a flood",
 * not one machine's speed from another's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommanderApi } from '../../contracts/actors.js';
import { ACTOR_IDS } from '../../contracts/actors.js';
import { eventually } from '../helpers.js';
import { codeOf, withApi } from '../http/fixture.js';
import { withService } from './harness.js';

describe('a hostile controller, end to end', () => {
  it('a flood of log annotations and of answers nobody asked for leaves a bounded log', () =>
    withService(async ({ phases, sim, service, logs }) => {
      await phases.waitFor('Synchronized');
      const before = logs.length;
      for (let i = 0; i < 10_000; i++) sim.faults.log('INFO', `tick ${i}`);
      for (let msgId = 1; msgId <= 10_000; msgId++) sim.faults.respond(msgId, 'OK');
      // A line of another level after the flood: connection logs it after every line the flood caused.
      sim.faults.log('WARN', 'flood over');
      const commander = service.system.ref<CommanderApi>(ACTOR_IDS.commander);
      let late = 0;
      await eventually(() => logs.some((l) => l['msg'] === 'controller: flood over'), 20_000, 'the marker');
      while (late < 10_000) late = (await commander.call('status')).lateResponses;
      await eventually(
        () => logs.some((l) => String(l['msg']).startsWith('response matches no pending request')),
        5000,
        'an unmatched-response line',
      );
      const flood = logs.slice(before);
      const controllerLines = flood.filter((l) => String(l['msg']).startsWith('controller: tick'));
      const unmatched = flood.filter((l) => String(l['msg']).startsWith('response matches no pending'));
      // 10,000 of each arrived; a handful of lines each is the limiter, thousands would be the flood.
      assert.ok(
        controllerLines.length >= 1 && controllerLines.length <= 20,
        `${controllerLines.length} lines`,
      );
      assert.ok(unmatched.length <= 20, `${unmatched.length} unmatched-response lines`);
      assert.ok(flood.length < 200, `${flood.length} lines in all`);
    }));

  it('a block answer nested 2,000 deep fails its command at once with 502 TETHER_BAD_RESPONSE', () =>
    withApi(
      async ({ phases, sim, call }) => {
        await phases.waitFor('Synchronized');
        const created = await call('POST', '/api/commands', {
          body: { opcode: 'BLOCK_CREATE', payload: { type: 'TempSensor', data: { value: 1 } } },
        });
        assert.equal(created.status, 200);
        const id = (created.json['payload'] as { id: number }).id;
        sim.faults.nestedPayloadDepth = 2000;
        const started = Date.now();
        const read = await call('POST', '/api/commands', { body: { opcode: 'BLOCK_READ', payload: { id } } });
        const tookMs = Date.now() - started;
        assert.equal(read.status, 502);
        assert.equal(codeOf(read), 'TETHER_BAD_RESPONSE');
        // The command timeout is 20 s here: an answer long before it is the frame's, not a timeout.
        assert.ok(tookMs < 5000, `answered after ${tookMs} ms`);
        sim.faults.nestedPayloadDepth = 0;
        const again = await call('POST', '/api/commands', {
          body: { opcode: 'BLOCK_READ', payload: { id } },
        });
        assert.equal(again.status, 200, 'the link is still good');
      },
      { config: { commander: { timeoutMs: 20_000 } } },
    ));
});

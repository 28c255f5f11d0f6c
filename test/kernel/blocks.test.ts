/**
 * The blocks API end to end (HTTP, the real service, the simulator over
 * TCP): by id and by name, every operation, the controller's codes kept and
 * mapped to statuses, names unique and written to the datastore, system
 * blocks protected, and a listing too large for one protocol line.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { codeOf, withApi } from '../http/fixture.js';
import { DEVICE_ID } from './task-helpers.js';

interface Block {
  id: number;
  name: string | null;
  type: string;
  data: Record<string, unknown>;
}

describe('blocks API', () => {
  it('creates, reads, writes, patches, renames and deletes blocks by id and by name', () =>
    withApi(async ({ phases, call }) => {
      await phases.waitFor('Synchronized');
      const created = await call('POST', '/api/blocks', {
        body: { name: 'fridge', type: 'TempSensor', data: { value: 4, limits: { low: 1, high: 8 } } },
      });
      assert.equal(created.status, 201);
      const block = created.json['block'] as Block;
      assert.equal(created.headers.get('location'), `/api/blocks/${block.id}`);
      assert.deepEqual((await call('GET', '/api/blocks/fridge')).json['block'], block);
      assert.deepEqual((await call('GET', `/api/blocks/${block.id}`)).json['block'], block);

      const written = await call('PUT', '/api/blocks/fridge', { body: { data: { value: 5 } } });
      assert.deepEqual((written.json['block'] as Block).data, { value: 5 });
      const patched = await call('PATCH', '/api/blocks/fridge', {
        body: { data: { limits: { high: 9 }, value: null, unit: 'C' } },
      });
      assert.deepEqual((patched.json['block'] as Block).data, { limits: { high: 9 }, unit: 'C' });

      const renamed = await call('PATCH', `/api/blocks/${block.id}`, { body: { name: 'cellar' } });
      assert.equal((renamed.json['block'] as Block).name, 'cellar');
      assert.equal(codeOf(await call('GET', '/api/blocks/fridge')), 'TETHER_BLOCK_NAME_NOT_FOUND');

      const unnamed = (await call('POST', '/api/blocks', { body: { type: 'Pwm', data: {} } })).json[
        'block'
      ] as Block;
      assert.equal(unnamed.name, `Pwm-${unnamed.id}`);
      const all = (await call('GET', '/api/blocks')).json['blocks'] as Block[];
      assert.deepEqual(
        all.map((b) => b.name),
        ['SysInfo', 'Ticks', 'cellar', `Pwm-${unnamed.id}`],
      );

      const deleted = await call('DELETE', '/api/blocks/cellar');
      assert.deepEqual(deleted.json['deleted'], { id: block.id, name: 'cellar' });
      assert.equal((await call('GET', `/api/blocks/${block.id}`)).status, 404);
      const cleared = await call('DELETE', '/api/blocks');
      assert.deepEqual(cleared.json, { forgotten: 1 });
      assert.deepEqual(
        ((await call('GET', '/api/blocks')).json['blocks'] as Block[]).map((b) => b.id),
        [2, 3],
      );
    }));

  it('keeps the controller’s error codes, as HTTP statuses', () =>
    withApi(
      async ({ phases, call }) => {
        await phases.waitFor('Synchronized');
        const missing = await call('GET', '/api/blocks/999');
        assert.equal(missing.status, 404);
        assert.equal(codeOf(missing), 'TETHER_CONTROLLER_ERROR');
        assert.equal(
          (missing.json['error'] as { detail: { controllerCode: string } }).detail.controllerCode,
          'BLOCK_NOT_FOUND',
        );
        await call('POST', '/api/blocks', { body: { name: 'a', type: 'TempSensor', data: {} } });
        const wrongType = await call('PUT', '/api/blocks/a', { body: { type: 'Pwm', data: {} } });
        assert.equal(wrongType.status, 400);
        assert.equal(
          (wrongType.json['error'] as { detail: { controllerCode: string } }).detail.controllerCode,
          'INVALID_BLOCK_TYPE',
        );
        await call('POST', '/api/blocks', { body: { type: 'TempSensor', data: {} } });
        const full = await call('POST', '/api/blocks', { body: { type: 'TempSensor', data: {} } });
        assert.equal(full.status, 507);
        assert.equal(
          (full.json['error'] as { detail: { controllerCode: string } }).detail.controllerCode,
          'INSUFFICIENT_STORAGE',
        );
        // The raw command route keeps 502: there the controller's answer is the payload.
        const raw = await call('POST', '/api/commands', {
          body: { opcode: 'BLOCK_READ', payload: { id: 999 } },
        });
        assert.equal(raw.status, 502);
        const status = (await call('GET', '/api/status')).json;
        assert.equal((status['component'] as { storage: { errors: number } }).storage.errors, 1);
      },
      { sim: { capacity: 2 } },
    ));

  it('names are unique per controller, never all digits, and system blocks keep theirs and cannot be deleted', () =>
    withApi(async ({ phases, call, service }) => {
      await phases.waitFor('Synchronized');
      await call('POST', '/api/blocks', { body: { name: 'fridge', type: 'TempSensor', data: {} } });
      const taken = await call('POST', '/api/blocks', {
        body: { name: 'fridge', type: 'TempSensor', data: {} },
      });
      assert.equal(taken.status, 409);
      assert.equal(codeOf(taken), 'TETHER_BLOCK_NAME_TAKEN');
      for (const name of ['123', ' padded', 'Ticks', 'bell\u0007']) {
        const refused = await call('POST', '/api/blocks', { body: { name, type: 'TempSensor', data: {} } });
        assert.equal(codeOf(refused), 'TETHER_BLOCK_NAME_INVALID', name);
      }
      const system = await call('DELETE', '/api/blocks/SysInfo');
      assert.equal(system.status, 403);
      assert.equal(codeOf(system), 'TETHER_SYSTEM_BLOCK');
      assert.equal(
        codeOf(await call('PATCH', '/api/blocks/3', { body: { name: 'clock' } })),
        'TETHER_SYSTEM_BLOCK',
      );
      assert.equal(((await call('GET', '/api/blocks/Ticks')).json['block'] as Block).id, 3);

      await service.tasks.blocks.flush();
      const file = JSON.parse(
        await readFile(join(service.config.stateDir, `blocks-${DEVICE_ID}.json`), 'utf8'),
      ) as { format: number; names: Array<{ id: number; name: string }> };
      assert.equal(file.format, 2);
      assert.deepEqual(
        file.names.map((n) => n.name),
        ['fridge'],
      );
    }));

  it('lists a controller whose blocks do not fit one BLOCK_LIST answer by reading the known blocks one by one', () =>
    withApi(
      async ({ phases, call, sim }) => {
        await phases.waitFor('Synchronized');
        for (let n = 0; n < 60; n++) {
          await call('POST', '/api/blocks', {
            body: { name: `sensor-${n}`, type: 'TempSensor', data: { note: 'x'.repeat(150) } },
          });
        }
        const requests: string[] = [];
        const off = sim.onRequest((request) => requests.push(request.opcode));
        const all = (await call('GET', '/api/blocks')).json['blocks'] as Block[];
        off();
        assert.equal(all.length, 62);
        assert.equal(requests[0], 'BLOCK_LIST');
        assert.equal(requests.filter((o) => o === 'BLOCK_READ').length, 62);
      },
      { sim: { capacity: 100 } },
    ));

  it('answers 409 TETHER_NOT_READY while the link is not Synchronized', () =>
    withApi(async ({ phases, call }) => {
      await phases.waitFor('Synchronized');
      await call('PUT', '/api/autoconnecting', { body: { enabled: false } });
      const mark = phases.mark();
      await call('POST', '/api/reconnect');
      await phases.waitFor('Disconnected', 10_000, mark);
      const answer = await call('GET', '/api/blocks');
      assert.equal(answer.status, 409);
      assert.equal(codeOf(answer), 'TETHER_NOT_READY');
    }));
});

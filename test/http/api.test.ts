/**
 * Every route of the HTTP API, success and error cases, over real HTTP
 * against the running service and the simulator.
 */
import type { SynchronizationApi } from '../../contracts/actors.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpApi } from '../../http/index.js';
import type { StatusView, TreeView } from '../../http/index.js';
import { EventStream, call, codeOf, withApi } from './fixture.js';

describe('HTTP API: reads', () => {
  it('GET /healthz and /readyz answer 200 once the service is Synchronized', () =>
    withApi(async ({ call, phases }) => {
      const health = await call('GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.json['rootState'], 'running');
      await phases.waitFor('Synchronized');
      const ready = await call('GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.json['phase'], 'Synchronized');
    }));

  it('/readyz answers 503 TETHER_UNREADY for the wrong device, unless readyWhen is connected; commands answer 409 TETHER_NOT_READY', () =>
    withApi(
      async ({ call, phases, service }) => {
        await phases.waitFor('Acknowledged');
        const unready = await call('GET', '/readyz');
        assert.equal(unready.status, 503);
        assert.equal(codeOf(unready), 'TETHER_UNREADY');
        // A second API on the same service with weaker readiness conditions.
        for (const [readyWhen, expected] of [
          ['acknowledged', 503],
          ['connected', 200],
        ] as const) {
          const weaker = await startHttpApi(
            service,
            { ...service.config.http, port: 0, readyWhen },
            service.logger,
          );
          try {
            const answer = await call_(weaker.address.url, '/readyz');
            assert.equal(answer.status, expected, readyWhen);
          } finally {
            await weaker.close();
          }
        }
        const command = await call('POST', '/api/commands', { body: { opcode: 'BLOCK_LIST' } });
        assert.equal(command.status, 409);
        assert.equal(codeOf(command), 'TETHER_NOT_READY');
        const status = (await call('GET', '/api/status')).json as unknown as StatusView;
        assert.equal(status.phase, 'Acknowledged');
        assert.equal(status.identityError, 'WRONG_DEVICE');
        assert.equal(status.firmwareError, null);
      },
      { config: { device: { id: 'aaaaaaaaaaaaaaaaaaaaaaaa' } } },
    ));

  it('GET /api/status gives phase, device, address, autoconnecting, uptime, counters and recent transitions', () =>
    withApi(async ({ call, phases, sim }) => {
      await phases.waitFor('Synchronized');
      const answer = await call('GET', '/api/status');
      assert.equal(answer.status, 200);
      const status = answer.json as unknown as StatusView;
      assert.equal(status.phase, 'Synchronized');
      assert.equal(status.generation, 1);
      assert.equal(status.address, `tcp://127.0.0.1:${sim.address?.port}`);
      assert.equal(status.autoconnecting, true);
      assert.equal(status.device?.deviceId, sim.faults.deviceId);
      assert.equal(status.firmwareError, null);
      assert.equal(status.identityError, null);
      assert.ok(status.uptimeMs >= 0);
      assert.ok((status.counters.commands?.sent ?? 0) >= 1);
      assert.ok((status.counters.connection?.framesIn ?? 0) >= 1);
      assert.equal(status.counters.restarts, 0);
      assert.equal(status.watchdog?.healthy, true);
      assert.deepEqual(status.errors, {});
      assert.deepEqual(
        status.recentTransitions.map((t) => t.to),
        ['Connected', 'Acknowledged', 'Synchronized'],
      );
    }));

  it('GET /api/status answers within its deadline when an actor hangs: that field is null with a note', () =>
    withApi(
      async ({ call, phases, service }) => {
        await phases.waitFor('Synchronized');
        assert.equal(service.system.injectFault('synchronization', 'hang'), true);
        // The fault travels on the control channel and the status call on another, with no order
        // between them: make sure the hang has begun (a direct call no longer answers) first.
        const sync = service.system.ref<SynchronizationApi>('synchronization');
        let hanging = false;
        for (let tries = 0; !hanging && tries < 50; tries += 1) {
          hanging = await sync.callWith({ timeoutMs: 200 }, 'status').then(
            () => false,
            () => true,
          );
        }
        assert.ok(hanging, 'the actor began to hang');
        const started = Date.now();
        const answer = await call('GET', '/api/status');
        assert.equal(answer.status, 200);
        assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
        const status = answer.json as unknown as StatusView;
        assert.equal(status.synchronization, null);
        assert.ok(status.errors['synchronization'] !== undefined);
        assert.match(status.errors['synchronization'].code, /^TETHER_(CALL_TIMEOUT|ACTOR_DOWN)$/);
      },
      { config: { supervision: { children: { synchronization: { shutdown: 300 } } } } },
    ));

  it('GET /api/tree shows each child with status, incarnation, restarts and last exit', () =>
    withApi(async ({ call }) => {
      const answer = await call('GET', '/api/tree');
      assert.equal(answer.status, 200);
      const tree = answer.json as unknown as TreeView;
      assert.equal(tree.id, 'root');
      assert.equal(tree.state, 'running');
      assert.deepEqual(
        tree.children.map((c) => c.id),
        ['device', 'watchdog', 'tasks'],
      );
      // The task pool, under its own supervisor, shows its threads and queue (no thread until its first job).
      const pool = tree.children[2]?.children?.[0];
      assert.equal(pool?.kind, 'pool');
      assert.deepEqual(
        [pool?.status, pool?.pool?.threads, pool?.pool?.queueSize, pool?.pool?.completed],
        ['running', 0, 0, 0],
      );
      const device = tree.children[0];
      assert.deepEqual(
        device?.children?.map((c) => [c.id, c.status, c.incarnation, c.restarts, c.lastExit]),
        [
          ['connection', 'running', 1, 0, null],
          ['commander', 'running', 1, 0, null],
          ['synchronization', 'running', 1, 0, null],
        ],
      );
    }));

  it('unknown routes answer 404 JSON, a known path with another method 405 with Allow', () =>
    withApi(async ({ call }) => {
      const missing = await call('GET', '/api/nothing-here');
      assert.equal(missing.status, 404);
      assert.equal(codeOf(missing), 'TETHER_HTTP_NOT_FOUND');
      assert.match(missing.headers.get('content-type') ?? '', /application\/json/);
      const wrong = await call('DELETE', '/api/status');
      assert.equal(wrong.status, 405);
      assert.equal(codeOf(wrong), 'TETHER_HTTP_METHOD_NOT_ALLOWED');
      assert.equal(wrong.headers.get('allow'), 'GET');
    }));
});

describe('HTTP API: event stream', () => {
  it('GET /api/events starts with the state, then delivers phase transitions and supervision events as they happen', () =>
    withApi(async ({ api, call, phases, service }) => {
      await phases.waitFor('Synchronized');
      const stream = await EventStream.open(api.address.url);
      try {
        const first = await stream.waitFor('state');
        assert.equal(first.data['phase'], 'Synchronized');
        const reconnect = await call('POST', '/api/reconnect');
        assert.equal(reconnect.status, 200);
        const down = await stream.waitFor('phase', (d) => d['to'] === 'Disconnected');
        assert.equal(down.data['from'], 'Synchronized');
        assert.match(String(down.data['reason']), /operator/);
        await stream.waitFor('phase', (d) => d['to'] === 'Synchronized' && d['generation'] === 2);
        const restarted = await call('POST', '/api/actors/watchdog/restart');
        assert.equal(restarted.status, 200);
        await stream.waitFor(
          'supervision',
          (d) => d['type'] === 'child-terminated' && d['childId'] === 'watchdog',
        );
        await stream.waitFor(
          'supervision',
          (d) => d['type'] === 'child-started' && d['childId'] === 'watchdog' && d['incarnation'] === 2,
        );
        const paused = await call('PUT', '/api/autoconnecting', { body: { enabled: false } });
        assert.equal(paused.status, 200);
        await stream.waitFor('autoconnecting', (d) => d['autoconnecting'] === false);
        service.kernel.setAutoconnecting(true);
      } finally {
        stream.close();
        await stream.done;
      }
    }));

  it('closing the API ends open streams, and the service stops without waiting on them', () =>
    withApi(async ({ api, service }) => {
      const streams = await Promise.all([
        EventStream.open(api.address.url),
        EventStream.open(api.address.url),
      ]);
      await Promise.all(streams.map((s) => s.waitFor('state')));
      // The API closes itself once the service has exited.
      await service.stop();
      await Promise.all(streams.map((s) => s.done));
      assert.ok(streams.every((s) => s.ended));
      await assert.rejects(fetch(new URL('/healthz', api.address.url)));
    }));
});

describe('HTTP API: operator actions', () => {
  it('POST /api/reconnect drops the link and the service connects again on a new generation', () =>
    withApi(async ({ call, phases }) => {
      await phases.waitFor('Synchronized');
      const mark = phases.mark();
      const answer = await call('POST', '/api/reconnect');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { disconnected: true, generation: 1, autoconnecting: true });
      await phases.waitFor('Disconnected', 5000, mark);
      const again = await phases.waitFor('Synchronized', 10_000, mark);
      assert.equal(again.to.generation, 2);
    }));

  it('PUT /api/autoconnecting false keeps a dropped link down; true brings it back', () =>
    withApi(async ({ call, phases, service }) => {
      await phases.waitFor('Synchronized');
      const paused = await call('PUT', '/api/autoconnecting', { body: { enabled: false } });
      assert.equal(paused.status, 200);
      assert.deepEqual(paused.json, { autoconnecting: false });
      const mark = phases.mark();
      await call('POST', '/api/reconnect');
      await phases.waitFor('Disconnected', 5000, mark);
      // Several retry intervals (100 ms initial) pass without a new link.
      await assert.rejects(phases.waitFor('Connected', 1000, mark));
      assert.equal(((await call('GET', '/api/status')).json as unknown as StatusView).autoconnecting, false);
      const resumed = await call('PUT', '/api/autoconnecting', { body: { enabled: true } });
      assert.deepEqual(resumed.json, { autoconnecting: true });
      await phases.waitFor('Synchronized', 10_000, mark);
      assert.equal(service.kernel.state.autoconnecting, true);
    }));

  it('PUT /api/autoconnecting refuses bad bodies: 400 shape or JSON, 415 media type, 413 size', () =>
    withApi(async ({ call }) => {
      const wrongType = await call('PUT', '/api/autoconnecting', { body: { enabled: 'yes' } });
      assert.equal(wrongType.status, 400);
      assert.equal(codeOf(wrongType), 'TETHER_HTTP_INVALID_BODY');
      const extra = await call('PUT', '/api/autoconnecting', { body: { enabled: true, also: 1 } });
      assert.equal(extra.status, 400);
      const missing = await call('PUT', '/api/autoconnecting');
      assert.equal(missing.status, 400);
      const notJson = await call('PUT', '/api/autoconnecting', { raw: '{"enabled": tru' });
      assert.equal(notJson.status, 400);
      assert.equal(codeOf(notJson), 'TETHER_HTTP_INVALID_BODY');
      const text = await call('PUT', '/api/autoconnecting', {
        raw: 'enabled=true',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(text.status, 415);
      assert.equal(codeOf(text), 'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE');
      const huge = await call('PUT', '/api/autoconnecting', {
        raw: JSON.stringify({ enabled: true, pad: 'x'.repeat(100_000) }),
      });
      assert.equal(huge.status, 413);
      assert.equal(codeOf(huge), 'TETHER_HTTP_BODY_TOO_LARGE');
    }));

  it('POST /api/actors/{id}/restart restarts that child with a new incarnation; an unknown id is 404', () =>
    withApi(async ({ call, phases }) => {
      await phases.waitFor('Synchronized');
      const answer = await call('POST', '/api/actors/watchdog/restart');
      assert.equal(answer.status, 200);
      assert.equal(answer.json['id'], 'watchdog');
      assert.equal(answer.json['supervisor'], 'root');
      assert.equal(answer.json['previousIncarnation'], 1);
      assert.equal(answer.json['incarnation'], 2);
      assert.equal(answer.json['status'], 'running');
      const tree = (await call('GET', '/api/tree')).json as unknown as TreeView;
      const watchdog = tree.children.find((c) => c.id === 'watchdog');
      assert.equal(watchdog?.incarnation, 2);
      assert.equal(watchdog?.lastExit?.kind, 'shutdown');
      const nested = await call('POST', '/api/actors/commander/restart');
      assert.equal(nested.status, 200);
      assert.equal(nested.json['supervisor'], 'device');
      const unknown = await call('POST', '/api/actors/nobody/restart');
      assert.equal(unknown.status, 404);
      assert.equal(codeOf(unknown), 'TETHER_CHILD_NOT_FOUND');
      // An id from the URL is quoted in the answer: cut, its control characters escaped.
      const hostile = await call('POST', `/api/actors/${'%1b%5b2J'.repeat(300)}/restart`);
      assert.equal(hostile.status, 404);
      const message = (hostile.json['error'] as { message: string }).message;
      assert.ok(message.length < 400, `${message.length} characters`);
      assert.ok(!message.includes(String.fromCharCode(0x1b)), message);
    }));
});

describe('HTTP API: commands', () => {
  it('POST /api/commands answers with the controller’s payload', () =>
    withApi(async ({ call, phases }) => {
      await phases.waitFor('Synchronized');
      const list = await call('POST', '/api/commands', { body: { opcode: 'BLOCK_LIST' } });
      assert.equal(list.status, 200);
      assert.equal(list.json['opcode'], 'BLOCK_LIST');
      assert.ok(Array.isArray(list.json['payload']));
      const created = await call('POST', '/api/commands', {
        body: { opcode: 'BLOCK_CREATE', payload: { id: 200, type: 'Demo', data: { value: 1 } } },
      });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      const read = await call('POST', '/api/commands', {
        body: { opcode: 'BLOCK_READ', payload: { id: 200 } },
      });
      assert.equal(read.status, 200);
      assert.equal((read.json['payload'] as { id: number }).id, 200);
      const none = await call('POST', '/api/commands', { body: { opcode: 'NONE' } });
      assert.deepEqual(none.json, { opcode: 'NONE', payload: null });
    }));

  it('POST /api/commands: 400 for an unknown opcode or a bad payload, 502 for a controller error, 504 for a timeout', () =>
    withApi(async ({ call, phases, sim }) => {
      await phases.waitFor('Synchronized');
      const opcode = await call('POST', '/api/commands', { body: { opcode: 'SELF_DESTRUCT' } });
      assert.equal(opcode.status, 400);
      assert.equal(codeOf(opcode), 'TETHER_HTTP_INVALID_BODY');
      const payload = await call('POST', '/api/commands', {
        body: { opcode: 'BLOCK_READ', payload: { id: 'x' } },
      });
      assert.equal(payload.status, 400);
      assert.equal(codeOf(payload), 'TETHER_HTTP_INVALID_BODY');
      const notFound = await call('POST', '/api/commands', {
        body: { opcode: 'BLOCK_READ', payload: { id: 4321 } },
      });
      assert.equal(notFound.status, 502);
      assert.equal(codeOf(notFound), 'TETHER_CONTROLLER_ERROR');
      const detail = (notFound.json['error'] as { detail: Record<string, unknown> }).detail;
      assert.equal(detail['controllerCode'], 'BLOCK_NOT_FOUND');
      sim.faults.silent = true;
      const timeout = await call('POST', '/api/commands', { body: { opcode: 'BLOCK_LIST', timeoutMs: 300 } });
      assert.equal(timeout.status, 504);
      assert.equal(codeOf(timeout), 'TETHER_COMMAND_TIMEOUT');
    }));

  it('after drain() mutating routes answer 503 TETHER_SHUTTING_DOWN while reads still answer', () =>
    withApi(async ({ api, call, phases }) => {
      await phases.waitFor('Synchronized');
      api.drain();
      const command = await call('POST', '/api/commands', { body: { opcode: 'BLOCK_LIST' } });
      assert.equal(command.status, 503);
      assert.equal(codeOf(command), 'TETHER_SHUTTING_DOWN');
      assert.equal(command.headers.get('connection'), 'close');
      assert.equal((await call('POST', '/api/reconnect')).status, 503);
      assert.equal((await call('GET', '/healthz')).status, 200);
    }));
});

/** A GET against another API than the fixture's. */
function call_(base: string, path: string) {
  return call(base, 'GET', path);
}

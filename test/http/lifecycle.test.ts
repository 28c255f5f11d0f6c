/**
 * The life cycle over HTTP: GET /api/lifecycle says where the service is and
 * who moved it there; PUT /api/lifecycle triggers, with the same checks as
 * every other state change (JSON only, a schema, the token).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, withApi } from './fixture.js';

describe('HTTP API: the life cycle', () => {
  it('GET says started by the start-up; PUT paused closes the link and records who asked; again is ignored; started reconnects', () =>
    withApi(async ({ call, phases, service }) => {
      await phases.waitFor('Synchronized');
      const first = await call('GET', '/api/lifecycle');
      assert.equal(first.status, 200);
      assert.equal(first.json['state'], 'started');
      assert.deepEqual(first.json['allowed'], ['paused', 'stopped']);
      assert.deepEqual((first.json['last'] as { source: unknown }).source, { via: 'startup' });
      assert.equal(first.json['group'], null);

      const mark = phases.mark();
      const paused = await call('PUT', '/api/lifecycle', {
        body: { state: 'paused' },
        headers: { 'user-agent': 'curl/8.0' },
      });
      assert.equal(paused.status, 200);
      assert.equal(paused.json['state'], 'paused');
      assert.equal(paused.json['ignored'], false);
      const transition = paused.json['transition'] as { from: string; to: string; source: unknown };
      assert.deepEqual([transition.from, transition.to], ['started', 'paused']);
      assert.deepEqual(transition.source, { via: 'http', client: 'curl/8.0' });
      await phases.waitFor('Disconnected', 10_000, mark);
      assert.equal(service.kernel.state.autoconnecting, false);

      const again = await call('PUT', '/api/lifecycle', { body: { state: 'paused' } });
      assert.deepEqual(again.json, { state: 'paused', ignored: true, transition: null });

      await call('PUT', '/api/lifecycle', { body: { state: 'started' } });
      await phases.waitFor('Synchronized', 10_000, mark);
      const last = (await call('GET', '/api/lifecycle')).json;
      assert.equal(last['state'], 'started');
      assert.equal((last['history'] as unknown[]).length, 4);
    }));

  it('PUT stopped stops the device actors and keeps the API answering; then every trigger is refused, naming the state', () =>
    withApi(async ({ call, phases, service }) => {
      await phases.waitFor('Synchronized');
      const stopped = await call('PUT', '/api/lifecycle', { body: { state: 'stopped' } });
      assert.equal(stopped.status, 200);
      const statuses = Object.fromEntries(service.root.whichChildren().map((c) => [c.id, c.status]));
      // The task pool (under its supervisor) stays: the API's backup file moves run on it.
      assert.deepEqual(statuses, { device: 'stopped', watchdog: 'stopped', tasks: 'running' });
      assert.equal(service.kernel.state.phase.name, 'Disconnected');
      assert.equal((await call('GET', '/healthz')).status, 200);
      const refused = await call('PUT', '/api/lifecycle', { body: { state: 'started' } });
      assert.equal(refused.status, 409);
      assert.equal(codeOf(refused), 'TETHER_LIFECYCLE_ILLEGAL');
      const detail = (refused.json['error'] as { detail: Record<string, unknown> }).detail;
      assert.deepEqual(detail, { state: 'stopped', target: 'started', allowed: [] });
      assert.equal(service.lifecycle.state, 'stopped');
    }));

  it('PUT /api/lifecycle takes JSON only, of its shape, and the token when one is set', () =>
    withApi(
      async ({ call, phases }) => {
        await phases.waitFor('Synchronized');
        const noToken = await call('PUT', '/api/lifecycle', { body: { state: 'paused' } });
        assert.equal(noToken.status, 401);
        const text = await call('PUT', '/api/lifecycle', {
          raw: 'state=paused',
          token: 'tok',
          headers: { 'content-type': 'text/plain' },
        });
        assert.equal(text.status, 415);
        const shape = await call('PUT', '/api/lifecycle', { body: { state: 'failed' }, token: 'tok' });
        assert.equal(shape.status, 400);
        assert.equal(codeOf(shape), 'TETHER_HTTP_INVALID_BODY');
        const ok = await call('PUT', '/api/lifecycle', { body: { state: 'paused' }, token: 'tok' });
        assert.equal(ok.status, 200);
      },
      { http: { token: 'tok' } },
    ));
});

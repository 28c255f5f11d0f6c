/**
 * The failure-drill routes: absent unless `http.drills` is on, and when on,
 * guarded like every other state change; an injected fault is the tree's
 * to notice and recover from.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResourcesView } from '../../http/drills.js';
import { codeOf, withApi } from './fixture.js';

const TOKEN = 'drill-token';

describe('HTTP failure drills', () => {
  it('without http.drills the drill routes do not exist: 404 whatever the method', () =>
    withApi(async ({ call }) => {
      const fault = await call('POST', '/api/drills/faults', {
        body: { actor: 'commander', fault: 'crash' },
      });
      assert.equal(fault.status, 404);
      assert.equal(codeOf(fault), 'TETHER_HTTP_NOT_FOUND');
      const resources = await call('GET', '/api/drills/resources');
      assert.equal(resources.status, 404);
      const wrongMethod = await call('GET', '/api/drills/faults');
      assert.equal(wrongMethod.status, 404);
    }));

  it('an injected out-of-memory ends that actor as oom; the tree restarts it and the link is Synchronized again', () =>
    withApi(
      async ({ call, phases, service }) => {
        await phases.waitFor('Synchronized');
        const mark = phases.mark();
        const exited = new Promise<string>((resolve) =>
          service.root.events.subscribe((event) => {
            if (event.type === 'child-exited' && event.childId === 'commander') resolve(event.reason.kind);
          }),
        );
        const answer = await call('POST', '/api/drills/faults', {
          body: { actor: 'commander', fault: 'oom' },
          token: TOKEN,
        });
        assert.equal(answer.status, 200);
        assert.equal(answer.json['fault'], 'oom');
        assert.equal(await exited, 'oom');
        await phases.waitFor('Synchronized', 20_000, mark);
      },
      {
        http: { drills: true, token: TOKEN },
        // V8 collects hard before it gives up at the heap limit: 1-3 s on this machine, about the
        // default heartbeat timeout, and a hang detected first would end the actor as 'hung'.
        config: {
          supervision: { children: { commander: { heartbeat: { intervalMs: 1000, timeoutMs: 15_000 } } } },
        },
      },
    ));

  it('a drill is a state change like any other: the token and JSON are required, the body is checked', () =>
    withApi(
      async ({ call }) => {
        const body = { actor: 'commander', fault: 'crash' };
        assert.equal(codeOf(await call('POST', '/api/drills/faults', { body })), 'TETHER_HTTP_UNAUTHORIZED');
        const form = await call('POST', '/api/drills/faults', {
          raw: 'actor=commander&fault=crash',
          token: TOKEN,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        assert.equal(codeOf(form), 'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE');
        const badFault = await call('POST', '/api/drills/faults', {
          body: { actor: 'commander', fault: 'explode' },
          token: TOKEN,
        });
        assert.equal(badFault.status, 400);
        assert.equal(codeOf(badFault), 'TETHER_HTTP_INVALID_BODY');
        const nobody = await call('POST', '/api/drills/faults', {
          body: { actor: 'nobody', fault: 'crash' },
          token: TOKEN,
        });
        assert.equal(nobody.status, 404);
        assert.equal(codeOf(nobody), 'TETHER_CHILD_NOT_FOUND');
        const supervisor = await call('POST', '/api/drills/faults', {
          body: { actor: 'device', fault: 'crash' },
          token: TOKEN,
        });
        assert.equal(codeOf(supervisor), 'TETHER_HTTP_INVALID_BODY');
      },
      { http: { drills: true, token: TOKEN } },
    ));

  it('GET /api/drills/resources counts the live workers and the main thread handles', () =>
    withApi(
      async ({ call, phases }) => {
        await phases.waitFor('Synchronized');
        const answer = await call('GET', '/api/drills/resources');
        assert.equal(answer.status, 200);
        const view = answer.json as unknown as ResourcesView;
        // Four actors, each with a warm standby at most.
        assert.ok(view.workers >= 4 && view.workers <= 8, `workers ${view.workers}`);
        assert.ok((view.handles['TCPServerWrap'] ?? 0) >= 1, JSON.stringify(view.handles));
        assert.ok(view.memory.rss > 0);
      },
      { http: { drills: true } },
    ));
});

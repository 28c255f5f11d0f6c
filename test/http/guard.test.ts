/**
 * Web pages kept out of the API, over real HTTP on loopback against the
 * running service: the Host check (DNS rebinding), the Origin check
 * (cross-site requests), JSON-only state changes (forms cannot post), and
 * no CORS anywhere. Requests are written byte for byte where the Host
 * header or the request line matters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHttpApi } from '../../http/index.js';
import type { TreeView } from '../../http/index.js';
import { codeOf, rawRequest, withApi } from './fixture.js';
import type { ApiFixture, RawAnswer } from './fixture.js';

const ALLOWED_HOSTS = ['tether.lan', '.farm.example'];

function get(base: string, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return rawRequest(base, [`GET ${path} HTTP/1.1`, ...lines, 'Connection: close'].join('\r\n'));
}

function post(base: string, path: string, headers: Record<string, string>, body = ''): Promise<RawAnswer> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  const head = [
    `POST ${path} HTTP/1.1`,
    ...lines,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  return rawRequest(base, head.join('\r\n'), body);
}

function errorCode(answer: RawAnswer): unknown {
  return (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
}

async function watchdogIncarnation(call: ApiFixture['call']): Promise<number | undefined> {
  const tree = (await call('GET', '/api/tree')).json as unknown as TreeView;
  return tree.children.find((child) => child.id === 'watchdog')?.incarnation;
}

describe('HTTP API: the Host check (DNS rebinding)', () => {
  it('a request naming another host gets 421 before routing, for reads, writes, the event stream and unknown paths alike', () =>
    withApi(
      async ({ api, call, phases }) => {
        await phases.waitFor('Synchronized');
        const base = api.address.url;
        const port = api.address.port;
        for (const host of [
          'evil.example',
          `evil.example:${port}`,
          'localhost.evil.example',
          'tether.lan.evil',
        ]) {
          for (const path of ['/api/status', '/api/tree', '/api/events', '/healthz', '/no-such-route']) {
            const answer = await get(base, path, { Host: host });
            assert.equal(answer.status, 421, `GET ${path} with Host ${host}`);
            assert.equal(errorCode(answer), 'TETHER_HTTP_HOST_NOT_ALLOWED');
          }
          const restart = await post(base, '/api/actors/watchdog/restart', {
            Host: host,
            'Content-Type': 'application/json',
          });
          assert.equal(restart.status, 421, `POST with Host ${host}`);
        }
        assert.equal(await watchdogIncarnation(call), 1, 'the refused restarts restarted nothing');
      },
      { http: { allowedHosts: ALLOWED_HOSTS } },
    ));

  it('loopback names and addresses (any case, a trailing dot, with a port, IPv6 in brackets), the bound address and http.allowedHosts are answered', () =>
    withApi(
      async ({ api }) => {
        const port = api.address.port;
        const allowed = [
          'localhost',
          `localhost:${port}`,
          'LocalHost.',
          `localhost.:${port}`,
          'app.localhost',
          '127.0.0.1',
          `127.0.0.1:${port}`,
          '127.8.9.10',
          '[::1]',
          `[::1]:${port}`,
          '[0:0:0:0:0:0:0:1]',
          'tether.lan',
          `TETHER.LAN:${port}`,
          'tether.lan.',
          'farm.example',
          'barn.farm.example',
        ];
        for (const host of allowed) {
          const answer = await get(api.address.url, '/healthz', { Host: host });
          assert.equal(answer.status, 200, `Host ${host}: ${answer.body}`);
        }
      },
      { http: { allowedHosts: ALLOWED_HOSTS } },
    ));

  it('a malformed or empty Host, or another address, is refused; HTTP/1.0 without Host is answered', () =>
    withApi(async ({ api }) => {
      const base = api.address.url;
      for (const host of [
        '',
        '[::1',
        '::1',
        'localhost:port',
        'localhost:99999',
        'user@localhost',
        'localhost/x',
        'localhost..',
        '192.0.2.7',
        '[2001:db8::1]',
      ]) {
        const answer = await get(base, '/healthz', { Host: host });
        assert.equal(answer.status, 421, `Host "${host}": ${answer.status} ${answer.body}`);
      }
      const old = await rawRequest(base, 'GET /healthz HTTP/1.0');
      assert.equal(old.status, 200, old.body);
    }));

  it('an absolute-form request target is checked by its own host, which replaces Host', () =>
    withApi(async ({ api }) => {
      const base = api.address.url;
      const port = api.address.port;
      const evil = await rawRequest(
        base,
        `GET http://evil.example:${port}/api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close`,
      );
      assert.equal(evil.status, 421);
      const local = await rawRequest(
        base,
        `GET http://localhost:${port}/healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close`,
      );
      assert.equal(local.status, 200, local.body);
    }));

  it('on a wildcard address any address literal is a valid Host (an address cannot be rebound), a name only when listed', () =>
    withApi(async ({ service }) => {
      const wide = await startHttpApi(
        service,
        { ...service.config.http, host: '0.0.0.0', port: 0, token: 'sesame', allowedHosts: ['tether.lan'] },
        service.logger,
      );
      try {
        const base = `http://127.0.0.1:${wide.address.port}`;
        for (const host of ['192.0.2.7', `192.0.2.7:${wide.address.port}`, '[2001:db8::1]', 'tether.lan']) {
          assert.equal((await get(base, '/healthz', { Host: host })).status, 200, host);
        }
        for (const host of ['evil.example', 'tether.lan.evil.example']) {
          assert.equal((await get(base, '/healthz', { Host: host })).status, 421, host);
        }
        // An address Host is no licence for a page at any address: only one of this very host and port.
        const host = `192.0.2.7:${wide.address.port}`;
        const samePage = await get(base, '/api/status', { Host: host, Origin: `http://${host}` });
        assert.equal(samePage.status, 200);
        for (const origin of [
          'http://192.0.2.99',
          `http://192.0.2.99:${wide.address.port}`,
          'http://192.0.2.7:8080',
        ]) {
          assert.equal((await get(base, '/api/status', { Host: host, Origin: origin })).status, 403, origin);
        }
      } finally {
        await wide.close();
      }
    }));
});

describe('HTTP API: the Origin check and JSON-only state changes (cross-site requests)', () => {
  it('a request from a page of another origin gets 403 before routing, the event stream included, and changes nothing', () =>
    withApi(async ({ api, call, phases }) => {
      await phases.waitFor('Synchronized');
      const mark = phases.mark();
      const base = api.address.url;
      const json = { 'Content-Type': 'application/json' };
      for (const origin of [
        'http://evil.example',
        'https://evil.example:8331',
        'null',
        'file://',
        'chrome-extension://abc',
      ]) {
        const headers = { Host: `localhost:${api.address.port}`, Origin: origin };
        for (const path of ['/api/reconnect', '/api/actors/watchdog/restart']) {
          const answer = await post(base, path, { ...headers, ...json });
          assert.equal(answer.status, 403, `POST ${path} from ${origin}`);
          assert.equal(errorCode(answer), 'TETHER_HTTP_ORIGIN_NOT_ALLOWED');
        }
        for (const path of ['/api/status', '/api/events', '/no-such-route']) {
          const answer = await get(base, path, headers);
          assert.equal(answer.status, 403, `GET ${path} from ${origin}`);
        }
      }
      assert.equal(phases.mark(), mark, 'no reconnect happened');
      assert.equal(phases.current, 'Synchronized');
      assert.equal(await watchdogIncarnation(call), 1, 'no restart happened');
    }));

  it('pages of the API’s own host and of allowed hosts pass; no answer carries CORS headers, and a preflight is not granted', () =>
    withApi(
      async ({ api }) => {
        const base = api.address.url;
        const port = api.address.port;
        const passing = [
          [`localhost:${port}`, `http://localhost:${port}`],
          [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`],
          [`localhost:${port}`, 'http://localhost:3000'],
          ['tether.lan', 'https://tether.lan'],
          ['spark.site.example', 'https://spark.site.example'],
        ] as const;
        for (const [host, origin] of passing) {
          const answer = await get(base, '/api/status', { Host: host, Origin: origin });
          assert.equal(answer.status, 200, `${origin} -> ${host}: ${answer.body}`);
          assert.equal(answer.headers['access-control-allow-origin'], undefined);
          assert.equal(answer.headers['x-content-type-options'], 'nosniff');
        }
        const preflight = await rawRequest(
          base,
          [
            'OPTIONS /api/commands HTTP/1.1',
            `Host: localhost:${port}`,
            'Origin: http://localhost:3000',
            'Access-Control-Request-Method: POST',
            'Access-Control-Request-Headers: content-type',
            'Connection: close',
          ].join('\r\n'),
        );
        assert.equal(preflight.status, 405);
        assert.equal(preflight.headers['access-control-allow-origin'], undefined);
        assert.equal(preflight.headers['access-control-allow-methods'], undefined);
      },
      { http: { allowedHosts: ['tether.lan', 'spark.site.example'] } },
    ));

  it('every state change needs Content-Type application/json, an empty body included: a form or text post restarts nothing', () =>
    withApi(async ({ api, call, phases, service }) => {
      await phases.waitFor('Synchronized');
      const base = api.address.url;
      const host = { Host: `127.0.0.1:${api.address.port}` };
      const refused: Array<Record<string, string>> = [
        {},
        { 'Content-Type': 'text/plain' },
        { 'Content-Type': 'text/plain;charset=UTF-8' },
        { 'Content-Type': 'application/x-www-form-urlencoded' },
        { 'Content-Type': 'multipart/form-data; boundary=x' },
        { 'Content-Type': 'application/jsonp' },
        { 'Content-Type': 'application/json; charset=latin1' },
        { 'Content-Type': 'text/plain; application/json' },
      ];
      for (const headers of refused) {
        for (const path of ['/api/actors/watchdog/restart', '/api/reconnect']) {
          const answer = await post(base, path, { ...host, ...headers });
          assert.equal(answer.status, 415, `${path} with ${JSON.stringify(headers)}`);
          assert.equal(errorCode(answer), 'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE');
        }
      }
      const form = await rawRequest(
        base,
        [
          'PUT /api/autoconnecting HTTP/1.1',
          `Host: ${host.Host}`,
          'Content-Type: application/x-www-form-urlencoded',
          'Content-Length: 13',
          'Connection: close',
        ].join('\r\n'),
        'enabled=false',
      );
      assert.equal(form.status, 415);
      assert.equal(service.kernel.state.autoconnecting, true);
      assert.equal(phases.current, 'Synchronized');
      assert.equal(await watchdogIncarnation(call), 1, 'none of the refused posts restarted the watchdog');

      for (const contentType of ['application/json', 'Application/JSON; charset="UTF-8"']) {
        const answer = await post(base, '/api/actors/watchdog/restart', {
          ...host,
          'Content-Type': contentType,
        });
        assert.equal(answer.status, 200, `${contentType}: ${answer.body}`);
      }
      assert.equal(await watchdogIncarnation(call), 3);
    }));

  it('a request body nested thousands deep is a 400, not a 500', () =>
    withApi(async ({ call, phases }) => {
      await phases.waitFor('Synchronized');
      const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
      const command = await call('POST', '/api/commands', {
        raw: `{"opcode":"BLOCK_CREATE","payload":{"id":300,"type":"Demo","data":{"value":${deep(5000)}}}}`,
      });
      assert.equal(command.status, 400, JSON.stringify(command.json));
      assert.equal(codeOf(command), 'TETHER_HTTP_INVALID_BODY');
      const toggle = await call('PUT', '/api/autoconnecting', { raw: `{"enabled":${deep(5000)}}` });
      assert.equal(toggle.status, 400);
      assert.equal(codeOf(toggle), 'TETHER_HTTP_INVALID_BODY');
      // An ordinary nesting still goes through.
      const nested = await call('POST', '/api/commands', {
        body: {
          opcode: 'BLOCK_CREATE',
          payload: { id: 301, type: 'Demo', data: { a: { b: { c: [1, [2, [3]]] } } } },
        },
      });
      assert.equal(nested.status, 200, JSON.stringify(nested.json));
    }));
});

/**
 * The bridge's listing over real HTTP: read-only JSON, and refused to a
 * request that names another host or comes from another origin (what a
 * DNS-rebinding web page would send).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { UsbBridge, startBridgeHttp, type BridgeHttp } from '../../bridge/index.js';
import { FakeSysfs } from '../actors/connection/discovery/fake-sysfs.js';
import { RecordingLog } from '../fakes/recording-log.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

function ask(
  http: BridgeHttp,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: http.address.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === '' ? undefined : JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function withListing(body: (http: BridgeHttp) => Promise<void>): Promise<void> {
  const fake = await FakeSysfs.create();
  const log = new RecordingLog();
  const bridge = await UsbBridge.start({
    ids: ['2B04:C006'],
    baudRate: 115_200,
    host: '127.0.0.1',
    basePort: 0,
    scanIntervalMs: 1000,
    sysRoot: fake.sys,
    devRoot: fake.dev,
    log,
  });
  const http = await startBridgeHttp(bridge, { host: '127.0.0.1', port: 0, log });
  try {
    await body(http);
  } finally {
    await http.close();
    await bridge.stop();
    await fake.close();
  }
}

const code = (answer: Answer): unknown => (answer.body as { error?: { code?: string } }).error?.code;

describe('USB bridge listing', () => {
  it('GET lists the controllers and counters as JSON', () =>
    withListing(async (http) => {
      const root = await ask(http, '/');
      assert.equal(root.status, 200);
      assert.match(String(root.headers['content-type']), /^application\/json/);
      assert.deepEqual((root.body as { controllers: unknown[] }).controllers, []);
      assert.equal(typeof (root.body as { counters: { scans: number } }).counters.scans, 'number');
      assert.deepEqual((await ask(http, '/controllers')).body, []);
      assert.deepEqual((await ask(http, '/health')).body, { ok: true });
      const head = await ask(http, '/', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, undefined);
    }));

  it('it is read-only: any other method is 405 with Allow, an unknown path 404', () =>
    withListing(async (http) => {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const answer = await ask(http, '/', { method, headers: { 'content-type': 'application/json' } });
        assert.equal(answer.status, 405, method);
        assert.equal(answer.headers['allow'], 'GET, HEAD');
        assert.equal(code(answer), 'TETHER_HTTP_METHOD_NOT_ALLOWED');
      }
      const missing = await ask(http, '/nope');
      assert.equal(missing.status, 404);
      assert.equal(code(missing), 'TETHER_HTTP_NOT_FOUND');
    }));

  it('a Host that is not the bridge (DNS rebinding) and a foreign Origin are refused', () =>
    withListing(async (http) => {
      const rebound = await ask(http, '/', { headers: { host: `evil.example:${http.address.port}` } });
      assert.equal(rebound.status, 421);
      assert.equal(code(rebound), 'TETHER_HTTP_HOST_NOT_ALLOWED');
      const foreign = await ask(http, '/', { headers: { origin: 'http://evil.example' } });
      assert.equal(foreign.status, 403);
      assert.equal(code(foreign), 'TETHER_HTTP_ORIGIN_NOT_ALLOWED');
      const local = await ask(http, '/', { headers: { host: `localhost:${http.address.port}` } });
      assert.equal(local.status, 200);
    }));
});

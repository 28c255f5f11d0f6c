/**
 * What the server itself answers, before any route: requests the HTTP
 * parser refuses get a typed JSON error like every other error of the API,
 * and a client that goes away mid-request is not an error of ours. Each of
 * these was found by `npm run fuzz` (Node answered a bare 400 with no body,
 * and logged an aborted upload as an unexpected error).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { eventually } from '../helpers.js';
import { rawRequest, withApi } from './fixture.js';
import type { RawAnswer } from './fixture.js';

function codeOfRaw(answer: RawAnswer): unknown {
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  return (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
}

describe('the HTTP server before routing', () => {
  it('a request line the parser refuses is a 400 with code TETHER_HTTP_BAD_REQUEST', () =>
    withApi(async ({ api }) => {
      const answer = await rawRequest(
        api.address.url,
        'GET /api/status HTTP/1.1 nonsense\r\nHost: 127.0.0.1',
      );
      assert.equal(answer.status, 400);
      assert.equal(codeOfRaw(answer), 'TETHER_HTTP_BAD_REQUEST');
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    }));

  it('a header name that is not a token, or two different Content-Lengths, is a 400 with a code', () =>
    withApi(async ({ api }) => {
      const badName = await rawRequest(
        api.address.url,
        'GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x',
      );
      assert.equal(codeOfRaw(badName), 'TETHER_HTTP_BAD_REQUEST');
      const twoLengths = await rawRequest(
        api.address.url,
        'POST /api/reconnect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3',
        '{}',
      );
      assert.equal(twoLengths.status, 400);
      assert.equal(codeOfRaw(twoLengths), 'TETHER_HTTP_BAD_REQUEST');
    }));

  it('a head over the parser bound is a 431 with code TETHER_HTTP_HEADERS_TOO_LARGE', () =>
    withApi(async ({ api }) => {
      const answer = await rawRequest(
        api.address.url,
        `GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ${'v'.repeat(20_000)}`,
      );
      assert.equal(answer.status, 431);
      assert.equal(codeOfRaw(answer), 'TETHER_HTTP_HEADERS_TOO_LARGE');
    }));

  it('CONNECT is a 405 with code TETHER_HTTP_METHOD_NOT_ALLOWED, not a connection closed without a word', () =>
    withApi(async ({ api }) => {
      const { host } = new URL(api.address.url);
      const answer = await rawRequest(api.address.url, `CONNECT ${host} HTTP/1.1\r\nHost: ${host}`);
      assert.equal(answer.status, 405);
      assert.equal(codeOfRaw(answer), 'TETHER_HTTP_METHOD_NOT_ALLOWED');
    }));

  it('an HTTP/1.1 request without Host is refused by the host check with its code', () =>
    withApi(async ({ api }) => {
      const answer = await rawRequest(api.address.url, 'GET /api/status HTTP/1.1\r\nAccept: */*');
      assert.equal(answer.status, 421);
      assert.equal(codeOfRaw(answer), 'TETHER_HTTP_HOST_NOT_ALLOWED');
    }));

  it('a client that goes away in the middle of a body leaves no unexpected error in the log', () =>
    withApi(async ({ api, logs }) => {
      const { port } = new URL(api.address.url);
      const socket = connect({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(
        'PUT /api/autoconnecting HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ena',
      );
      // The head is parsed (and the body being read) before the server sees the connection end.
      socket.destroy();
      await eventually(
        () => logs.some((l) => l['event'] === 'http-request' && l['path'] === '/api/autoconnecting'),
        10_000,
        'the request to be over',
      );
      assert.deepEqual(
        logs.filter((l) => l['msg'] === 'HTTP API: unexpected error'),
        [],
      );
    }));
});

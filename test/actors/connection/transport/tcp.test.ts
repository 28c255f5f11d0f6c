import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { openTcpLink, type LinkCloseInfo } from '../../../../actors/connection/transport/index.js';
import { TetherError } from '../../../../runtime/errors.js';
import { collectUntil, withDeadline } from './helpers.js';

/** A server on an ephemeral port that hands each accepted socket to the test. */
async function server(): Promise<{
  port: number;
  accepted: Promise<net.Socket>;
  close: () => Promise<void>;
}> {
  const srv = net.createServer();
  const sockets = new Set<net.Socket>();
  const accepted = new Promise<net.Socket>((resolve) =>
    srv.on('connection', (s) => {
      sockets.add(s);
      resolve(s);
    }),
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  return {
    port,
    accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

test('bytes flow both ways over a TCP link', async () => {
  const srv = await server();
  const link = await openTcpLink({ host: '127.0.0.1', port: srv.port });
  try {
    const peer = await srv.accepted;
    const toPeer = collectUntil(
      (l) => {
        peer.on('data', l);
        return () => peer.off('data', l);
      },
      (b) => b.toString() === 'ping\n',
    );
    await link.write('ping\n');
    await toPeer;
    const fromPeer = collectUntil(
      (l) => link.onData(l),
      (b) => b.toString() === 'pong\n',
    );
    peer.write('pong\n');
    assert.equal((await fromPeer).toString(), 'pong\n');
    assert.equal(link.kind, 'tcp');
    assert.equal(link.address, `tcp://127.0.0.1:${srv.port}`);
  } finally {
    await link.close();
    await srv.close();
  }
});

test('a write after close rejects with LINK_CLOSED instead of throwing', async () => {
  const srv = await server();
  const link = await openTcpLink({ host: '127.0.0.1', port: srv.port });
  await link.close();
  await assert.rejects(link.write('x'), (e: unknown) => TetherError.is(e, 'TETHER_LINK_CLOSED'));
  assert.equal(link.closed, true);
  await link.close(); // idempotent
  await srv.close();
});

test('the peer closing the connection is reported once as a remote close', async () => {
  const srv = await server();
  const link = await openTcpLink({ host: '127.0.0.1', port: srv.port });
  const infos: LinkCloseInfo[] = [];
  const closed = new Promise<void>((resolve) =>
    link.onClose((info) => {
      infos.push(info);
      resolve();
    }),
  );
  (await srv.accepted).end();
  await withDeadline(closed, 3000, 'close');
  assert.deepEqual(infos, [{ reason: 'remote' }]);
  await assert.rejects(link.write('x'), (e: unknown) => TetherError.is(e, 'TETHER_LINK_CLOSED'));
  // A late close listener still hears about it.
  const late = await withDeadline(new Promise<LinkCloseInfo>((r) => link.onClose(r)), 1000, 'late close');
  assert.equal(late.reason, 'remote');
  await link.close();
  await srv.close();
});

test('a peer reset is reported as an error close', async () => {
  const srv = await server();
  const link = await openTcpLink({ host: '127.0.0.1', port: srv.port });
  const closed = new Promise<LinkCloseInfo>((resolve) => link.onClose(resolve));
  link.onError(() => {}); // ECONNRESET is also reported here
  (await srv.accepted).resetAndDestroy();
  const info = await withDeadline(closed, 3000, 'close');
  assert.equal(info.reason, 'error');
  await srv.close();
});

test('a refused connection rejects with LINK_OPEN_FAILED', async () => {
  const srv = await server();
  const port = srv.port;
  await srv.close();
  await assert.rejects(openTcpLink({ host: '127.0.0.1', port }), (e: unknown) =>
    TetherError.is(e, 'TETHER_LINK_OPEN_FAILED'),
  );
});

test('a connection that never completes rejects with CONNECT_TIMEOUT and destroys the socket', async () => {
  let socket: net.Socket | undefined;
  await assert.rejects(
    openTcpLink({
      host: '127.0.0.1',
      port: 1,
      connectTimeoutMs: 50,
      createSocket: () => (socket = new net.Socket()),
    }),
    (e: unknown) => TetherError.is(e, 'TETHER_CONNECT_TIMEOUT'),
  );
  assert.equal(socket?.destroyed, true);
});

test('an aborted connect rejects with LINK_OPEN_FAILED', async () => {
  const controller = new AbortController();
  const opening = openTcpLink({
    host: '127.0.0.1',
    port: 1,
    createSocket: () => new net.Socket(),
    signal: controller.signal,
  });
  controller.abort();
  await assert.rejects(opening, (e: unknown) => TetherError.is(e, 'TETHER_LINK_OPEN_FAILED'));
});

test('a data listener that throws is reported as a link error, not an uncaught exception', async () => {
  const srv = await server();
  const link = await openTcpLink({ host: '127.0.0.1', port: srv.port });
  try {
    link.onData(() => {
      throw new Error('listener bug');
    });
    const reported = new Promise<Error>((resolve) => link.onError(resolve));
    (await srv.accepted).write('x');
    assert.equal((await withDeadline(reported, 3000, 'error')).message, 'listener bug');
  } finally {
    await link.close();
    await srv.close();
  }
});

/**
 * The Connection class against the real simulator over real TCP, with fakes
 * for the kernel and the other actors and a manual clock (so "no timer was
 * set" proves an immediate retry, and backoff delays are read, not waited).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Connection, type LinkOpener } from '../../../actors/connection/connection.js';
import { encodeRequest } from '../../../protocol/index.js';
import { connectDelay } from '../../../actors/connection/backoff.js';
import { LOOPBACK, testMdnsPort } from './discovery/mdns/multicast.js';
import { startSimulator, type Simulator } from '../../../sim/index.js';
import type { TetherConfigInput } from '../../../config/index.js';
import { eventually } from '../../helpers.js';
import { FakeKernel, FakePeers, FakeTimers, RecordingLog, config } from './fakes.js';

interface Rig {
  connection: Connection;
  kernel: FakeKernel;
  peers: FakePeers;
  timers: FakeTimers;
  log: RecordingLog;
}

function rig(input: TetherConfigInput, extra: { openLink?: LinkOpener } = {}): Rig {
  const kernel = new FakeKernel();
  const peers = new FakePeers();
  const timers = new FakeTimers();
  const log = new RecordingLog();
  const connection = new Connection({
    config: config(input),
    peers: peers.peers(kernel),
    log,
    timers,
    ...extra,
  });
  kernel.listener = connection;
  return { connection, kernel, peers, timers, log };
}

async function withSim(
  body: (sim: Simulator, r: Rig) => Promise<void>,
  input: TetherConfigInput = {},
): Promise<void> {
  const sim = await startSimulator({ port: 0 });
  const port = sim.address!.port;
  const r = rig({ discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port } }, ...input });
  try {
    await body(sim, r);
  } finally {
    await r.connection.terminate();
    await sim.close();
  }
}

function none(msgId: number): string {
  return encodeRequest({ msgId, opcode: 'NONE' }).toString();
}

function connectedTo(kernel: FakeKernel, generation: number): boolean {
  return kernel.phase.name === 'Connected' && kernel.phase.generation === generation;
}

/** A TCP port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('connects to the simulator and asks the kernel for Connected with kind and address', () =>
  withSim(async (sim, { connection, kernel }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    assert.deepEqual(kernel.connectedRequests(), [
      { to: 'Connected', connection: { kind: 'tcp', address: `tcp://127.0.0.1:${sim.address!.port}` } },
    ]);
    await eventually(() => connection.status().generation === 1, 5000, 'status generation');
    const status = connection.status();
    assert.equal(status.kind, 'tcp');
    assert.equal(status.address, `tcp://127.0.0.1:${sim.address!.port}`);
  }));

test('the handshake reaches synchronization and responses reach commander with the generation', () =>
  withSim(async (_sim, { connection, kernel, peers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await peers.until((p) => p.events.some((e) => e.event.type === 'handshake'), 'handshake');
    assert.equal(peers.events[0]!.generation, 1);
    connection.write(1, none(7));
    await peers.until((p) => p.responses.some((r) => r.frame.msgId === 7), 'response to NONE');
    const response = peers.responses.find((r) => r.frame.msgId === 7)!;
    assert.equal(response.generation, 1);
    assert.equal(response.frame.error, 'OK');
    await peers.until(() => connection.status().framesOut === 1, 'framesOut');
    assert.equal(connection.status().framesIn, 1);
  }));

test('watchdog activity is cast at most every 250 ms while bytes arrive', () =>
  withSim(async (_sim, { connection, kernel, peers, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await peers.until((p) => p.activity.length === 1, 'first activity');
    connection.write(1, none(1));
    await peers.until((p) => p.responses.length === 1, 'first response');
    assert.equal(peers.activity.length, 1, 'no second cast within 250 ms of the first');
    timers.advance(250);
    connection.write(1, none(2));
    await peers.until((p) => p.activity.length === 2, 'second activity');
    assert.deepEqual(
      peers.activity.map((a) => a.generation),
      [1, 1],
    );
    assert.equal(peers.activity[1]!.at, timers.now());
  }));

test('a write naming a stale generation is dropped and never reaches the controller', () =>
  withSim(async (sim, { connection, kernel, peers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await eventually(() => connection.status().address !== null && connection.status().generation === 1);
    const before = sim.stats.requests;
    connection.write(0, none(3));
    connection.write(2, none(4));
    assert.equal(connection.counters.droppedWrites, 2);
    connection.write(1, none(5));
    await peers.until((p) => p.responses.some((r) => r.frame.msgId === 5), 'response to the good write');
    assert.equal(sim.stats.requests, before + 1);
    assert.ok(!peers.responses.some((r) => r.frame.msgId === 3 || r.frame.msgId === 4));
  }));

test('a good link (Synchronized for resetAfterMs) that drops is reported Disconnected and retried at once', () =>
  withSim(async (sim, { connection, kernel, peers, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await eventually(() => connection.status().generation === 1 && connection.status().address !== null);
    kernel.synchronize(1);
    await eventually(() => connection.status().activity.startsWith('connected to'));
    // The kernel's cast of Synchronized arrives on a later tick; then the link is good 5 s on.
    await new Promise((resolve) => setImmediate(resolve));
    timers.advance(5000);
    sim.faults.drop();
    await kernel.until((k) => connectedTo(k, 2), 'reconnected as generation 2');
    const disconnect = kernel.requests.find((r) => r.to === 'Disconnected');
    assert.ok(disconnect !== undefined && disconnect.to === 'Disconnected');
    assert.equal(disconnect.generation, 1);
    // A reset from the peer: a plain close, or ECONNRESET when it finds the socket mid-read.
    assert.match(disconnect.reason, /closed by the controller|ECONNRESET/);
    // No backoff timer was set: the retry after a good link is immediate.
    assert.deepEqual(timers.delays, []);
    await peers.until((p) => p.events.some((e) => e.generation === 2), 'handshake of generation 2');
    connection.write(1, none(9));
    assert.equal(connection.counters.droppedWrites, 1, 'generation 1 is stale now');
  }));

test('links that fail before they were good back off as failed connects do, and a good one resets that', () =>
  withSim(async (sim, { connection, kernel, timers, log }) => {
    await connection.start();
    const retry = { initialMs: 2000, factor: 1.5, maxMs: 30_000 };
    for (let generation = 1; generation <= 4; generation++) {
      await kernel.until((k) => connectedTo(k, generation), `Connected ${generation}`);
      await eventually(() => connection.status().generation === generation);
      sim.faults.drop();
      await kernel.until((k) => k.phase.name === 'Disconnected', `Disconnected ${generation}`);
      assert.equal(await timers.runTimer(generation), connectDelay(retry, generation));
    }
    assert.deepEqual(timers.delays, [2000, 3000, 4500, 6750]);
    // One warning per backoff step: the waits differ, so each is a step.
    const failed = log.at('warn').filter((l) => l.msg.startsWith('the link failed before'));
    assert.equal(failed.length, 4);
    await kernel.until((k) => connectedTo(k, 5), 'Connected 5');
    await eventually(() => connection.status().generation === 5 && connection.status().address !== null);
    kernel.synchronize(5);
    await new Promise((resolve) => setImmediate(resolve));
    timers.advance(5000);
    sim.faults.drop();
    await kernel.until((k) => connectedTo(k, 6), 'reconnected at once after the good link');
    assert.equal(timers.delays.length, 4, 'no wait after a good link');
    assert.equal(connection.counters.failures, 0);
  }));

test('a Disconnected that says when to retry (listening mode) is obeyed, with no step up the backoff', () =>
  withSim(async (_sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await eventually(() => connection.status().generation === 1 && connection.status().address !== null);
    kernel.disconnect(1, 'controller in listening mode', 777);
    await timers.untilDelays(1);
    assert.equal(timers.delays[0], 777);
    assert.equal(connection.counters.failures, 0);
    timers.advance(777);
    await kernel.until((k) => connectedTo(k, 2), 'reconnected after the asked wait');
  }));

test('when the kernel disconnects a generation (watchdog), the link is closed and a new one opened', () =>
  withSim(async (_sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    kernel.disconnect(1, 'watchdog: no answer');
    // Never Synchronized: a failed attempt, so the next one waits.
    await timers.runTimer(1);
    await kernel.until((k) => connectedTo(k, 2), 'reconnected as generation 2');
    // Our own Disconnected request was refused (the kernel had moved): no harm done.
    assert.ok(kernel.requests.some((r) => r.to === 'Disconnected' && r.reason === 'watchdog: no answer'));
  }));

test('with autoconnect paused no new link is opened, and an open one is kept', () =>
  withSim(async (sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    kernel.setAutoconnecting(false);
    // The kernel's cast arrives on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(connection.status().address !== null, true, 'the open link is kept');
    sim.faults.drop();
    await kernel.until((k) => k.phase.name === 'Disconnected', 'Disconnected');
    await eventually(() => connection.status().activity === 'autoconnect paused', 5000, 'paused');
    assert.equal(kernel.connectedRequests().length, 1);
    kernel.setAutoconnecting(true);
    await timers.runTimer(1);
    await kernel.until((k) => connectedTo(k, 2), 'reconnected once resumed');
  }));

test('a paused state arriving after the resume (a fetched reply overtaken by the cast) does not pause the link again', () =>
  withSim(async (sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    kernel.setAutoconnecting(false);
    sim.faults.drop();
    await kernel.until((k) => k.phase.name === 'Disconnected', 'Disconnected');
    await eventually(() => connection.status().activity === 'autoconnect paused', 5000, 'paused');
    // What a kernel.state() fetched while paused answers: the same phase as the resumed state.
    const paused = kernel.state;
    kernel.setAutoconnecting(true);
    await new Promise((resolve) => setImmediate(resolve));
    // Casts and replies travel on different channels: the older answer may come last.
    connection.onKernelState(paused);
    await timers.runTimer(1);
    await kernel.until((k) => connectedTo(k, 2), 'reconnected although the paused state came last');
  }));

test('closeLink for the current generation closes it; for another generation it does nothing', () =>
  withSim(async (_sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await eventually(() => connection.status().activity.startsWith('connected to'));
    connection.closeLink(5, 'not mine');
    connection.closeLink(0, 'old');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(kernel.phase.name, 'Connected');
    connection.closeLink(1, 'operator asked');
    await timers.runTimer(1);
    await kernel.until((k) => connectedTo(k, 2), 'reconnected');
    assert.ok(kernel.requests.some((r) => r.to === 'Disconnected' && r.reason === 'operator asked'));
  }));

test('refused connections back off 2 s, x1.5, up to 30 s', async () => {
  const port = await closedPort();
  const { connection, kernel, timers } = rig({
    discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port } },
    connection: { retry: { initialMs: 2000, factor: 1.5, maxMs: 10_000 } },
  });
  try {
    await connection.start();
    const expected = [2000, 3000, 4500, 6750, 10_000, 10_000];
    for (let i = 0; i < expected.length; i++) {
      await timers.untilDelays(i + 1);
      assert.equal(timers.delays[i], expected[i], `delay ${i + 1}`);
      assert.equal(timers.pending, 1);
      timers.advance(timers.delays[i]!);
    }
    assert.equal(kernel.connectedRequests().length, 0);
  } finally {
    await connection.terminate();
  }
  assert.equal(timers.pending, 0, 'terminate clears the timer');
});

test('a good link resets the backoff of failed connects', async () => {
  let refuse = 2;
  const sim = await startSimulator({ port: 0 });
  const port = sim.address!.port;
  const realOpen = (await import('../../../actors/connection/connection.js')).openCandidate;
  const { connection, kernel, timers } = rig(
    { discovery: { mode: 'tcp', tcp: { host: '127.0.0.1', port } } },
    {
      openLink: (candidate, options) =>
        refuse-- > 0 ? Promise.reject(new Error('refused (test)')) : realOpen(candidate, options),
    },
  );
  try {
    await connection.start();
    await timers.untilDelays(1);
    timers.advance(2000);
    await timers.untilDelays(2);
    timers.advance(3000);
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await eventually(() => connection.status().generation === 1 && connection.status().address !== null);
    assert.equal(connection.counters.failures, 2, 'a connect alone is not a good link');
    kernel.synchronize(1);
    await new Promise((resolve) => setImmediate(resolve));
    timers.advance(5000);
    refuse = 1;
    sim.faults.drop();
    // Immediate retry fails once, and the backoff starts again from 2 s, not 4.5 s.
    await timers.untilDelays(3);
    assert.deepEqual(timers.delays, [
      2000,
      3000,
      connectDelay({ initialMs: 2000, factor: 1.5, maxMs: 30_000 }, 1),
    ]);
    timers.advance(2000);
    await kernel.until((k) => connectedTo(k, 2), 'Connected again');
  } finally {
    await connection.terminate();
    await sim.close();
  }
});

test('discovery that finds nothing waits discovery.intervalMs between tries', async () => {
  const { connection, kernel, timers, log } = rig({ discovery: { mode: 'tcp', intervalMs: 1234 } });
  try {
    await connection.start();
    await timers.untilDelays(1);
    timers.advance(1234);
    await timers.untilDelays(2);
    assert.deepEqual(timers.delays, [1234, 1234]);
    assert.equal(kernel.requests.length, 0);
    assert.equal(log.lines.filter((l) => l.msg.includes('tcp.host is not set')).length, 1, 'said once');
  } finally {
    await connection.terminate();
  }
});

test('mdns mode connects to a simulator it finds on multicast DNS, by its device id', async () => {
  const mdns = { port: testMdnsPort(), interface: LOOPBACK };
  const deviceId = 'abcdefabcdefabcdefabcdef';
  const sim = await startSimulator({ port: 0, deviceId, mdns });
  const { connection, kernel } = rig({
    device: { id: deviceId.toUpperCase() },
    discovery: { mode: 'mdns', intervalMs: 100, mdns: { ...mdns, answerWaitMs: 2000 } },
  });
  try {
    assert.ok(sim.advertised !== undefined, 'the simulator advertises itself');
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    assert.deepEqual(kernel.connectedRequests()[0], {
      to: 'Connected',
      connection: { kind: 'tcp', address: `tcp://127.0.0.1:${sim.address!.port}` },
    });
  } finally {
    await connection.terminate();
    await sim.close();
  }
});

test('mdns that finds nothing keeps looking, and terminate ends a round waiting for answers', async () => {
  const { connection, timers } = rig({
    discovery: {
      mode: 'mdns',
      intervalMs: 100,
      mdns: { port: testMdnsPort(), interface: LOOPBACK, answerWaitMs: 60_000 },
    },
  });
  await connection.start();
  await eventually(() => connection.status().activity.startsWith('discovering'), 5000, 'discovering');
  const started = Date.now();
  await connection.terminate();
  assert.ok(Date.now() - started < 5000, 'terminate did not wait for the 60 s answer window');
  assert.equal(timers.pending, 0);
});

test('sim mode connects to 127.0.0.1 on the port the kernel put in simulator.port', async () => {
  const sim = await startSimulator({ port: 0 });
  const { connection, kernel } = rig({ discovery: { mode: 'sim' }, simulator: { port: sim.address!.port } });
  try {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    assert.deepEqual(kernel.connectedRequests()[0], {
      to: 'Connected',
      connection: { kind: 'tcp', address: `tcp://127.0.0.1:${sim.address!.port}` },
    });
  } finally {
    await connection.terminate();
    await sim.close();
  }
});

test('a Connected state left by an earlier incarnation is reported Disconnected at start', () =>
  withSim(async (_sim, { connection, kernel }) => {
    kernel.transition({ to: 'Connected', connection: { kind: 'tcp', address: 'tcp://old:1' } });
    await connection.start();
    await kernel.until((k) => connectedTo(k, 2), 'a fresh link as generation 2');
    assert.ok(kernel.requests.some((r) => r.to === 'Disconnected' && r.generation === 1));
  }));

test('terminate closes the link and reports it, leaving no timer', () =>
  withSim(async (sim, { connection, kernel, timers }) => {
    await connection.start();
    await kernel.until((k) => connectedTo(k, 1), 'Connected');
    await connection.terminate();
    assert.equal(kernel.phase.name, 'Disconnected');
    assert.equal(timers.pending, 0);
    await kernel.until(() => sim.connections === 0, 'sim sees the close');
  }));

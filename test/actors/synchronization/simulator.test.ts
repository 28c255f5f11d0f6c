/**
 * The Synchronizer with the real commander against the real simulator over
 * TCP: the kernel is the fake (the real transition table), and the wiring
 * that connection does (decode, responses to commander, events to
 * synchronization) is done here by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseDecoder } from '../../../protocol/index.js';
import { openTcpLink } from '../../../actors/connection/transport/index.js';
import { Commander } from '../../../actors/commander/commander.js';
import { FileDatastore } from '../../../actors/synchronization/datastore.js';
import { Synchronizer, realTimers } from '../../../actors/synchronization/synchronization.js';
import { startSimulator } from '../../../sim/index.js';
import type { FaultSettings } from '../../../sim/defaults.js';
import { CONFIG, FakeKernel, RecordingLog, flush } from './fakes.js';

interface Rig {
  kernel: FakeKernel;
  commander: Commander;
  sync: Synchronizer;
  stateDir: string;
  log: RecordingLog;
}

async function withRig(
  options: { faults?: Partial<FaultSettings>; protoVersion?: string },
  body: (rig: Rig) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, ...options });
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-sync-sim-'));
  const address = sim.address;
  assert.ok(address !== undefined);
  const link = await openTcpLink({ host: address.host, port: address.port });
  const log = new RecordingLog();
  const kernel = new FakeKernel(realTimers);
  const commander = new Commander(
    { timeoutMs: 2000, recovery: 'disconnect' },
    {
      connection: { write: (_generation, frame) => void link.write(frame).catch(() => undefined) },
      kernel,
      log,
      crash: (error) => assert.fail(error),
    },
  );
  const sync = new Synchronizer({
    commander,
    kernel,
    datastore: new FileDatastore(join(stateDir, 'state')),
    log,
    timers: realTimers,
    config: { ...CONFIG, handshakePingMs: 50, handshakeTimeoutMs: 5000 },
    crash: (error) => assert.fail(error),
  });
  kernel.listener = (state) => {
    commander.onKernelState(state);
    sync.onKernelState(state);
  };
  const generation = kernel.connect({ kind: 'tcp', address: link.address });
  const decoder = new ResponseDecoder((out) => {
    if (out.kind === 'frame') commander.onResponse(generation, out.frame);
    if (out.kind === 'event') void sync.onEvent(generation, out.event);
  });
  link.onData((chunk) => decoder.push(chunk));
  try {
    await body({ kernel, commander, sync, stateDir, log });
  } finally {
    sync.close();
    commander.terminate();
    await link.close();
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('against the simulator, a new link reaches Synchronized with the clock set and the trace read', async () => {
  await withRig({}, async ({ kernel, commander, sync, stateDir, log }) => {
    const phase = await kernel.waitFor('Synchronized');
    assert.ok(phase.name === 'Synchronized');
    assert.deepEqual(phase.sync.trace, []);
    assert.equal(phase.sync.storedBlocks, 0);
    assert.equal(sync.status().step, 'synchronized');

    const ticks = await commander.request('BLOCK_READ', { id: 3 });
    const seconds = ticks.data.secondsSinceEpoch;
    assert.equal(typeof seconds, 'number');
    assert.ok(Math.abs((seconds as number) - Date.now() / 1000) < 5, 'the controller clock was set');
    assert.deepEqual(await readdir(join(stateDir, 'state')), [], 'the state directory was made; no file yet');

    // The handshake the controller sends after a NONE (as the watchdog's check) is no reset.
    await commander.request('NONE', undefined);
    await commander.request('BLOCK_READ', { id: 3 });
    await flush();
    assert.ok(
      log.at('debug').some((e) => e.msg.startsWith('handshake repeated')),
      'the echo arrived',
    );
    assert.equal(kernel.disconnects.length, 0);
    assert.equal(kernel.phase.name, 'Synchronized');
  });
});

test('against a simulator that greets only after a NONE, the handshake pings bring it in sync', async () => {
  await withRig({ faults: { handshakeOnlyAfterNone: true } }, async ({ kernel }) => {
    await kernel.waitFor('Synchronized');
  });
});

test('against a simulator with other firmware, the link stays Acknowledged as incompatible', async () => {
  await withRig({ protoVersion: '0badf00d' }, async ({ kernel, sync }) => {
    const phase = await kernel.waitFor('Acknowledged');
    assert.ok(phase.name === 'Acknowledged');
    assert.equal(phase.ack.firmwareError, 'INCOMPATIBLE');
    await flush();
    assert.equal(sync.status().step, 'incompatible');
    assert.equal(kernel.disconnects.length, 0);
  });
});

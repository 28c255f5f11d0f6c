import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControllerEvent, Handshake } from '../../../protocol/index.js';
import { Synchronizer } from '../../../actors/synchronization/synchronization.js';
import type { SynchronizationConfig } from '../../../actors/synchronization/synchronization.js';
import { TetherError } from '../../../runtime/errors.js';
import { StateFileIsDirectoryError } from '../../../system/errors.js';
import {
  CONFIG,
  DEVICE_ID,
  FakeCommander,
  FakeKernel,
  FakeTimers,
  HANDSHAKE,
  MemoryDatastore,
  RecordingLog,
  flush,
} from './fakes.js';

interface Harness {
  sync: Synchronizer;
  timers: FakeTimers;
  kernel: FakeKernel;
  commander: FakeCommander;
  datastore: MemoryDatastore;
  log: RecordingLog;
  crashes: Error[];
  /** Opens a link (kernel Connected, cast delivered) and returns its generation. */
  connect(): Promise<number>;
  event(generation: number, event: ControllerEvent): Promise<void>;
  handshake(generation: number, changes?: Partial<Handshake>): Promise<void>;
}

async function harness(config: Partial<SynchronizationConfig> = {}): Promise<Harness> {
  const timers = new FakeTimers();
  const kernel = new FakeKernel(timers);
  const commander = new FakeCommander();
  const datastore = new MemoryDatastore();
  const log = new RecordingLog();
  const crashes: Error[] = [];
  const sync = new Synchronizer({
    commander,
    kernel,
    datastore,
    log,
    timers,
    config: { ...CONFIG, ...config },
    crash: (error) => crashes.push(error),
  });
  kernel.listener = (state) => sync.onKernelState(state);
  await sync.start();
  const h: Harness = {
    sync,
    timers,
    kernel,
    commander,
    datastore,
    log,
    crashes,
    connect: async () => {
      const generation = kernel.connect();
      await flush();
      return generation;
    },
    event: async (generation, event) => {
      await sync.onEvent(generation, event);
      await flush();
    },
    handshake: (generation, changes = {}) =>
      h.event(generation, { type: 'handshake', handshake: { ...HANDSHAKE, ...changes } }),
  };
  return h;
}

/** Connects and brings the link to Synchronized. */
async function synchronized(h: Harness): Promise<number> {
  const generation = await h.connect();
  await h.handshake(generation);
  assertPhase(h, 'Synchronized');
  return generation;
}

/** Not `assert.equal`, which would narrow `h.kernel.phase` for the rest of the test. */
function assertPhase(h: Harness, name: string): void {
  assert.equal(h.kernel.phase.name as string, name);
}

function cleanUp(h: Harness): void {
  h.sync.close();
  assert.equal(h.timers.pending, 0, 'a timer was left running');
}

// --------------------------------------------------------------- handshake

test('while waiting for the handshake it sends a NONE every handshakePingMs, without waiting for answers', async () => {
  const h = await harness();
  h.commander.hang('NONE'); // a slow NONE must not hold back the next
  const generation = await h.connect();
  assert.equal(h.sync.status().step, 'handshake');
  await h.timers.advance(0);
  assert.equal(h.commander.of('NONE').length, 1);
  assert.deepEqual(h.commander.of('NONE')[0]?.options, { minPhase: 'Connected', internal: true });
  await h.timers.advance(2000);
  await h.timers.advance(2000);
  assert.equal(h.commander.of('NONE').length, 3);

  await h.handshake(generation);
  await h.timers.advance(10_000);
  assert.equal(h.commander.of('NONE').length, 3, 'pings stop once the handshake is in');
  h.commander.releaseAll(new Error('link closed'));
  await flush();
  assert.equal(h.kernel.disconnects.length, 0, 'failed pings are ignored');
  cleanUp(h);
});

test('no handshake within handshakeTimeoutMs asks the kernel once to disconnect that generation', async () => {
  const h = await harness();
  const generation = await h.connect();
  await h.timers.advance(119_999);
  assert.equal(h.kernel.disconnects.length, 0);
  await h.timers.advance(1);
  assert.deepEqual(
    h.kernel.disconnects.map((d) => d.generation),
    [generation],
  );
  assertPhase(h, 'Disconnected');
  const pings = h.commander.of('NONE').length;
  await h.timers.advance(300_000);
  assert.equal(h.kernel.disconnects.length, 1, 'asked once');
  assert.equal(h.commander.of('NONE').length, pings, 'no pings after the disconnect');
  assert.equal(h.sync.status().step, 'idle');
  assert.notEqual(h.sync.status().lastError, null);
  assert.equal(h.crashes.length, 0);
  cleanUp(h);
});

test('a controller that answers nothing while connecting is dropped after silentMs, long before the handshake timeout', async () => {
  const h = await harness();
  h.commander.hang('NONE');
  const generation = await h.connect();
  await h.timers.advance(CONFIG.silentMs - 1);
  assert.equal(h.kernel.disconnects.length, 0);
  await h.timers.advance(1);
  assert.deepEqual(
    h.kernel.disconnects.map((d) => [d.generation, d.retryInMs]),
    [[generation, undefined]],
  );
  h.commander.releaseAll(new Error('link closed'));
  cleanUp(h);
});

test('with recovery.handshakeTimeout restart, a handshake timeout disconnects and then crashes', async () => {
  const h = await harness({
    recovery: { ...CONFIG.recovery, handshakeTimeout: 'restart' },
  });
  await h.connect();
  await h.timers.advance(120_000);
  assert.equal(h.kernel.disconnects.length, 1);
  assert.equal(h.crashes.length, 1);
  assert.ok(TetherError.is(h.crashes[0], 'TETHER_HANDSHAKE_TIMEOUT'));
  assert.equal(h.timers.pending, 0, 'nothing runs after the crash');
});

// -------------------------------------------------------------------- sync

test('a compatible handshake leads to Acknowledged, then the three sync steps in order, then Synchronized', async () => {
  const h = await harness();
  h.datastore.stores.set(DEVICE_ID, {
    deviceId: DEVICE_ID,
    blocks: [
      { id: 100, type: 'TempSensor', data: {} },
      { id: 101, type: 'Pid', data: {} },
    ],
    savedAt: null,
  });
  const generation = await h.connect();
  const now = h.timers.now();
  await h.handshake(generation);

  assert.deepEqual(
    h.kernel.requests.map((r) => r.to),
    ['Acknowledged', 'Synchronized'],
  );
  const ack = h.kernel.requests[0];
  assert.ok(ack?.to === 'Acknowledged');
  assert.deepEqual(ack.ack, { handshake: HANDSHAKE });

  const steps = h.commander.sent.filter((r) => r.opcode !== 'NONE');
  assert.deepEqual(
    steps.map((r) => [r.opcode, r.payload, r.options]),
    [
      [
        'BLOCK_WRITE',
        { id: 3, type: 'Ticks', data: { secondsSinceEpoch: Math.floor(now / 1000) } },
        { minPhase: 'Acknowledged', timeoutMs: CONFIG.stepTimeoutMs },
      ],
      [
        'BLOCK_WRITE',
        { id: 2, type: 'SysInfo', data: { command: 'TRACE_READ_RESUME' } },
        { minPhase: 'Acknowledged', timeoutMs: CONFIG.stepTimeoutMs },
      ],
    ],
  );
  assert.deepEqual(h.datastore.loads, [DEVICE_ID]);
  assert.equal(h.sync.store?.blocks.length, 2);

  const phase = h.kernel.phase;
  assert.ok(phase.name === 'Synchronized');
  assert.deepEqual(phase.sync, {
    clockSetTo: Math.floor(now / 1000),
    storedBlocks: 2,
    trace: h.commander.trace,
  });
  assert.deepEqual(h.sync.status(), { step: 'synchronized', lastError: null, datastore: null });
  assert.equal(h.kernel.disconnects.length, 0);
  cleanUp(h);
});

test('the sync steps wait for each other: the block store is loaded only after the clock write answered', async () => {
  const h = await harness();
  h.commander.hang('BLOCK_WRITE:3');
  const generation = await h.connect();
  await h.handshake(generation);
  assert.equal(h.sync.status().step, 'set-clock');
  assert.equal(h.datastore.loads.length, 0);
  assert.equal(h.commander.of('BLOCK_WRITE:2').length, 0);
  assertPhase(h, 'Acknowledged');
  h.commander.releaseAll(new Error('test over'));
  await flush();
  cleanUp(h);
});

test('an incompatible proto_version stays Acknowledged with firmwareError INCOMPATIBLE: no sync, no disconnect', async () => {
  const h = await harness();
  const generation = await h.connect();
  await h.handshake(generation, { protoVersion: 'deadbeef' });
  const phase = h.kernel.phase;
  assert.ok(phase.name === 'Acknowledged');
  assert.equal(phase.ack.firmwareError, 'INCOMPATIBLE');
  assert.equal(phase.ack.identityError, undefined);
  assert.equal(h.sync.status().step, 'incompatible');
  assert.notEqual(h.sync.status().lastError, null);

  await h.timers.advance(3_600_000);
  assert.equal(h.commander.sent.filter((r) => r.opcode !== 'NONE').length, 0, 'no sync step sent');
  assert.equal(h.datastore.loads.length, 0);
  assert.equal(h.kernel.disconnects.length, 0);
  assertPhase(h, 'Acknowledged');

  // The controller's echo of a later NONE is not a reset.
  await h.handshake(generation, { protoVersion: 'deadbeef' });
  assert.equal(h.kernel.disconnects.length, 0);
  assert.equal(h.log.at('error').length, 1, 'logged as an error once');
  cleanUp(h);
});

test('the same incompatibility on a later connection is not logged as an error again', async () => {
  const h = await harness();
  const first = await h.connect();
  await h.handshake(first, { protoVersion: 'deadbeef' });
  h.kernel.linkLost('unplugged');
  await flush();
  const second = await h.connect();
  await h.handshake(second, { protoVersion: 'deadbeef' });
  assertPhase(h, 'Acknowledged');
  assert.equal(h.log.at('error').length, 1);
  cleanUp(h);
});

test('proto_version is compared without regard to case', async () => {
  const h = await harness();
  const generation = await h.connect();
  await h.handshake(generation, { protoVersion: 'B1698B6E' });
  assertPhase(h, 'Synchronized');
  cleanUp(h);
});

test('skipVersionCheck accepts any proto_version', async () => {
  const h = await harness({ skipVersionCheck: true });
  const generation = await h.connect();
  await h.handshake(generation, { protoVersion: 'deadbeef' });
  const phase = h.kernel.phase;
  assert.ok(phase.name === 'Synchronized');
  assert.equal(phase.ack.firmwareError, undefined);
  cleanUp(h);
});

test('a controller with another device id stays Acknowledged with identityError WRONG_DEVICE', async () => {
  const h = await harness({ deviceId: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
  const generation = await h.connect();
  await h.handshake(generation);
  const phase = h.kernel.phase;
  assert.ok(phase.name === 'Acknowledged');
  assert.equal(phase.ack.identityError, 'WRONG_DEVICE');
  assert.equal(phase.ack.firmwareError, undefined);
  assert.equal(h.sync.status().step, 'wrong-device');
  await h.timers.advance(3_600_000);
  assert.equal(h.kernel.disconnects.length, 0);
  assert.equal(h.commander.sent.filter((r) => r.opcode !== 'NONE').length, 0);
  cleanUp(h);
});

test('the configured device id matches the handshake without regard to case', async () => {
  const h = await harness({ deviceId: 'ABCDEF012345678901234567' });
  const generation = await h.connect();
  await h.handshake(generation, { deviceId: 'abcdef012345678901234567' });
  assertPhase(h, 'Synchronized');
  cleanUp(h);
});

for (const [step, fail] of [
  [
    'set-clock',
    (h: Harness) => h.commander.answers.set('BLOCK_WRITE:3', () => Promise.reject(new Error('BUSY'))),
  ],
  [
    'read-trace',
    (h: Harness) => h.commander.answers.set('BLOCK_WRITE:2', () => Promise.reject(new Error('BUSY'))),
  ],
] as const) {
  test(`a failing ${step} step asks the kernel to disconnect, naming the step`, async () => {
    const h = await harness();
    fail(h);
    const generation = await h.connect();
    await h.handshake(generation);
    assert.equal(h.kernel.disconnects.length, 1);
    assert.equal(h.kernel.disconnects[0]?.generation, generation);
    assert.match(h.kernel.disconnects[0]?.reason ?? '', new RegExp(step));
    assertPhase(h, 'Disconnected');
    assert.equal(h.crashes.length, 0, 'a sync error does not exit or crash by default');
    assert.ok(!h.kernel.requests.some((r) => r.to === 'Synchronized'));
    cleanUp(h);
  });
}

test('a datastore that cannot be used does not fail the sync: Synchronized without stored blocks, the error in status, logged once', async () => {
  const h = await harness();
  const path = `/state/blocks-${DEVICE_ID}.json`;
  h.datastore.failWith = new StateFileIsDirectoryError(path);
  const generation = await synchronized(h);
  const phase = h.kernel.phase;
  assert.ok(phase.name === 'Synchronized');
  assert.equal(phase.sync.storedBlocks, 0);
  assert.equal(h.kernel.disconnects.length, 0, 'no disconnect, so no reconnect loop');
  assert.deepEqual(h.sync.status().datastore, {
    code: 'TETHER_STATE_FILE_IS_DIRECTORY',
    message: h.datastore.failWith.message,
    path,
  });
  assert.equal(h.sync.status().lastError, null);
  assert.equal(h.log.at('error').length, 1);

  // The link drops for another reason and comes back: the same problem is not logged as an error again.
  h.kernel.linkLost();
  await flush();
  assert.notEqual(await synchronized(h), generation);
  assert.equal(h.log.at('error').length, 1, 'the same problem again is not a new error');
  assert.equal(h.sync.status().datastore?.code, 'TETHER_STATE_FILE_IS_DIRECTORY');

  // Someone removed the directory: the store is used again, and status says so.
  h.datastore.failWith = undefined;
  h.kernel.linkLost();
  await flush();
  await synchronized(h);
  assert.equal(h.sync.status().datastore, null);
  cleanUp(h);
});

test('a block store file the datastore set aside is logged once as a warning, with its code', async () => {
  const h = await harness();
  h.datastore.recovered = {
    code: 'TETHER_STATE_FILE_TOO_LARGE',
    reason: 'too large',
    setAsideAs: `/state/blocks-${DEVICE_ID}.json.oversized-x`,
  };
  await synchronized(h);
  const warnings = h.log.at('warn');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.fields?.['code'], 'TETHER_STATE_FILE_TOO_LARGE');
  assert.equal(h.sync.status().datastore, null, 'set aside and replaced: the store is usable');
  cleanUp(h);
});

test('a SysInfo answer without a trace array fails read-trace', async () => {
  const h = await harness({ recovery: { ...CONFIG.recovery, syncError: 'restart' } });
  h.commander.answers.set('BLOCK_WRITE:2', () => Promise.resolve({ id: 2, type: 'SysInfo', data: {} }));
  const generation = await h.connect();
  await h.handshake(generation);
  assertPhase(h, 'Disconnected');
  assert.equal(h.crashes.length, 1, 'restart policy: disconnect, then crash');
  const crash = h.crashes[0];
  assert.ok(TetherError.is(crash, 'TETHER_SYNC_STEP_FAILED'));
  assert.equal(crash.detail.step, 'read-trace');
});

test('the kernel refusing Synchronized counts as a failed step and disconnects', async () => {
  const h = await harness();
  h.kernel.refuse = 'Synchronized';
  const generation = await h.connect();
  await h.handshake(generation);
  assert.equal(h.kernel.disconnects.length, 1);
  assert.equal(h.kernel.disconnects[0]?.generation, generation);
  cleanUp(h);
});

test('a sync step that fails because the link went away asks for nothing more', async () => {
  const h = await harness();
  h.commander.hang('BLOCK_WRITE:3');
  const generation = await h.connect();
  await h.handshake(generation);
  // The link drops; commander fails the pending request before the kernel's cast arrives here.
  h.kernel.listener = undefined;
  h.kernel.linkLost('socket reset');
  h.commander.releaseAll(new Error('link lost'));
  await flush();
  assert.equal(h.kernel.disconnects.length, 0, 'no disconnect for a generation that is gone');
  assert.equal(h.datastore.loads.length, 0, 'no further step');
  assert.equal(h.sync.status().step, 'idle');
  cleanUp(h);
});

// ------------------------------------------------------------------ events

test('a handshake with a new reset reason while Synchronized means a reset: disconnect', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  await h.handshake(generation, { resetReason: '3C', resetData: '01' });
  assert.equal(h.kernel.disconnects.length, 1);
  assert.equal(h.kernel.disconnects[0]?.generation, generation);
  assert.match(h.kernel.disconnects[0]?.reason ?? '', /WATCHDOG/);
  assertPhase(h, 'Disconnected');

  // The next connection runs the whole sequence again.
  const next = await h.connect();
  await h.handshake(next, { resetReason: '3C', resetData: '01' });
  assertPhase(h, 'Synchronized');
  assert.equal(h.kernel.phase.generation, next);
  cleanUp(h);
});

test('a handshake while Acknowledged that differs from the acknowledged one disconnects', async () => {
  const h = await harness();
  h.commander.hang('BLOCK_WRITE:3');
  const generation = await h.connect();
  await h.handshake(generation);
  assertPhase(h, 'Acknowledged');
  await h.handshake(generation, { resetReason: '8C', resetData: '02' });
  assert.equal(h.kernel.disconnects.length, 1);
  h.commander.releaseAll(new Error('link lost'));
  await flush();
  assert.equal(h.kernel.disconnects.length, 1, 'the failed step does not ask again');
  cleanUp(h);
});

test('a repeat of the acknowledged handshake (the answer to a NONE) is not a reset', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  await h.handshake(generation);
  await h.handshake(generation, { deviceId: DEVICE_ID.toUpperCase() });
  assert.equal(h.kernel.disconnects.length, 0);
  assertPhase(h, 'Synchronized');
  cleanUp(h);
});

test('listening mode asks the kernel to disconnect', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  await h.event(generation, { type: 'setupMode' });
  assert.deepEqual(
    h.kernel.disconnects.map((d) => d.generation),
    [generation],
  );
  assert.equal(h.crashes.length, 0);
  cleanUp(h);
});

test('listening mode asks connection to wait listeningRetryMs before the next link', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  await h.event(generation, { type: 'setupMode' });
  assert.equal(h.kernel.disconnects[0]?.retryInMs, CONFIG.listeningRetryMs);
  cleanUp(h);
});

test('after listening mode the next link is held in Connected until a NONE is answered, then synchronized', async () => {
  const h = await harness();
  await h.event(await synchronized(h), { type: 'setupMode' });
  h.commander.hang('NONE');
  const generation = await h.connect();
  // The controller greets each connection even in listening mode: that handshake is not taken yet.
  await h.handshake(generation);
  assertPhase(h, 'Connected');
  assert.equal(h.sync.status().step, 'listening');
  await h.timers.advance(CONFIG.handshakePingMs * 2);
  assertPhase(h, 'Connected');
  // It leaves listening mode: the next ping is answered, and the held handshake is taken.
  h.commander.answers.delete('NONE');
  await h.timers.advance(CONFIG.handshakePingMs);
  await flush();
  assertPhase(h, 'Synchronized');
  assert.equal(h.kernel.disconnects.length, 1, 'only the one for listening mode');
  h.commander.releaseAll(new Error('link closed'));
  cleanUp(h);
});

test('a held link is kept past silentMs, and after handshakeTimeoutMs a new one is tried after the listening wait; <!SETUP_MODE> on it changes nothing', async () => {
  const h = await harness();
  await h.event(await synchronized(h), { type: 'setupMode' });
  h.commander.hang('NONE');
  const generation = await h.connect();
  await h.handshake(generation);
  await h.event(generation, { type: 'setupMode' });
  assert.equal(h.kernel.disconnects.length, 1, 'no second disconnect for a repeated SETUP_MODE');
  await h.timers.advance(CONFIG.silentMs * 2);
  assert.equal(h.kernel.disconnects.length, 1, 'silent on purpose: held, not dropped');
  assert.equal(h.commander.of('NONE').length, (CONFIG.silentMs * 2) / CONFIG.handshakePingMs + 1);
  await h.timers.advance(CONFIG.handshakeTimeoutMs - CONFIG.silentMs * 2);
  assert.deepEqual(
    h.kernel.disconnects.map((d) => [d.generation, d.retryInMs]),
    [
      [generation - 1, CONFIG.listeningRetryMs],
      [generation, CONFIG.listeningRetryMs],
    ],
  );
  h.commander.releaseAll(new Error('link closed'));
  cleanUp(h);
});

test('a sync step that fails the same way on every link is logged as an error once', async () => {
  const h = await harness();
  // The controller refuses the clock write on every link (a datastore that fails no longer fails the sync).
  h.commander.answers.set('BLOCK_WRITE:3', () => Promise.reject(new Error('BUSY')));
  for (let i = 0; i < 5; i++) {
    const generation = await h.connect();
    await h.handshake(generation);
    assertPhase(h, 'Disconnected');
  }
  assert.equal(h.kernel.disconnects.length, 5);
  assert.equal(h.log.lines.filter((l) => l.msg.startsWith('synchronization step failed')).length, 5);
  assert.equal(h.log.lines.filter((l) => l.level === 'error').length, 1);
  cleanUp(h);
});

test('listening mode with recovery.listeningMode restart disconnects and crashes', async () => {
  const h = await harness({ recovery: { ...CONFIG.recovery, listeningMode: 'restart' } });
  const generation = await synchronized(h);
  await h.event(generation, { type: 'setupMode' });
  assert.equal(h.kernel.disconnects.length, 1);
  assert.ok(TetherError.is(h.crashes[0], 'TETHER_LISTENING_MODE'));
});

test('firmware updater, cbox error and unknown events are logged and change nothing', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  await h.event(generation, {
    type: 'firmwareUpdater',
    firmwareVersion: '4558bdae',
    protoVersion: 'b1698b6e',
  });
  await h.event(generation, { type: 'cboxError', code: 0x2a });
  await h.event(generation, { type: 'unknown', text: '!WHAT' });
  assert.equal(h.kernel.disconnects.length, 0);
  assertPhase(h, 'Synchronized');
  assert.equal(h.log.at('warn').length, 2);
  assert.ok(h.log.at('debug').some((e) => e.fields?.text === '!WHAT'));
  cleanUp(h);
});

// -------------------------------------------------------------- clock re-sync

test('while Synchronized the clock is set again every clockResyncMs, and no more after a disconnect', async () => {
  const h = await harness();
  await synchronized(h);
  const clockWrites = (): number => h.commander.of('BLOCK_WRITE:3').length;
  assert.equal(clockWrites(), 1);
  await h.timers.advance(899_999);
  assert.equal(clockWrites(), 1);
  await h.timers.advance(1);
  assert.equal(clockWrites(), 2);
  const last = h.commander.of('BLOCK_WRITE:3')[1];
  assert.deepEqual(last?.payload, {
    id: 3,
    type: 'Ticks',
    data: { secondsSinceEpoch: Math.floor(h.timers.now() / 1000) },
  });
  assert.deepEqual(last?.options, { minPhase: 'Synchronized' });
  await h.timers.advance(900_000);
  assert.equal(clockWrites(), 3);

  h.kernel.linkLost('unplugged');
  await flush();
  await h.timers.advance(3 * 900_000);
  assert.equal(clockWrites(), 3);
  assert.equal(h.timers.pending, 0);
  cleanUp(h);
});

test('a failed clock re-sync is logged and the next one still happens', async () => {
  const h = await harness();
  await synchronized(h);
  h.commander.answers.set('BLOCK_WRITE:3', () => Promise.reject(new Error('timeout')));
  await h.timers.advance(900_000);
  assert.equal(h.kernel.disconnects.length, 0);
  assert.notEqual(h.sync.status().lastError, null);
  assert.equal(h.sync.status().step, 'synchronized');
  await h.timers.advance(900_000);
  assert.equal(h.commander.of('BLOCK_WRITE:3').length, 3);
  cleanUp(h);
});

// ------------------------------------------------------------- generations

test('an event for an old generation is ignored', async () => {
  const h = await harness();
  const old = await h.connect();
  h.kernel.linkLost();
  await flush();
  const current = await h.connect();
  await h.handshake(old);
  await h.event(old, { type: 'setupMode' });
  assert.deepEqual(h.kernel.requests, [], 'no transition asked for');
  assert.equal(h.kernel.disconnects.length, 0);
  assert.equal(h.kernel.phase.generation, current);
  assert.equal(h.sync.status().step, 'handshake');
  cleanUp(h);
});

test('an event for a generation newer than the last state seen catches up with the kernel first', async () => {
  const h = await harness();
  h.kernel.listener = undefined; // the Connected cast is slow to arrive
  const generation = h.kernel.connect();
  const before = h.kernel.stateCalls;
  await h.handshake(generation);
  assert.equal(h.kernel.stateCalls, before + 1);
  const ack = h.kernel.requests.find((r) => r.to === 'Acknowledged');
  assert.equal(ack?.to === 'Acknowledged' ? ack.generation : null, generation);
  assertPhase(h, 'Synchronized');
  assert.equal(h.commander.of('NONE').length, 0, 'no ping: the handshake was already in');
  // The late cast changes nothing.
  h.sync.onKernelState({
    phase: { ...h.kernel.phase, name: 'Connected' } as never,
    autoconnecting: true,
    version: 0,
  });
  assert.equal(h.sync.status().step, 'synchronized');
  cleanUp(h);
});

test('a state older than the last one seen is ignored', async () => {
  const h = await harness();
  const generation = await synchronized(h);
  h.sync.onKernelState({
    phase: { name: 'Disconnected', generation: generation - 1, since: 0, reason: 'old' },
    autoconnecting: true,
    version: 0,
  });
  assert.equal(h.sync.status().step, 'synchronized');
  cleanUp(h);
});

test('started while the link is already Acknowledged (after a restart), it runs the sync steps', async () => {
  const h = await harness();
  h.commander.hang('BLOCK_WRITE:3');
  const generation = await h.connect();
  await h.handshake(generation);
  h.sync.close(); // the old incarnation dies mid-step
  h.commander.answers.delete('BLOCK_WRITE:3');

  const fresh = new Synchronizer({
    commander: h.commander,
    kernel: h.kernel,
    datastore: h.datastore,
    log: h.log,
    timers: h.timers,
    config: CONFIG,
    crash: (error) => h.crashes.push(error),
  });
  h.kernel.listener = (state) => fresh.onKernelState(state);
  await fresh.start();
  await flush();
  assertPhase(h, 'Synchronized');
  assert.equal(h.kernel.phase.generation, generation);
  assert.equal(fresh.status().step, 'synchronized');
  // It keeps the clock in sync too.
  const writes = h.commander.of('BLOCK_WRITE:3').length;
  await h.timers.advance(900_000);
  assert.equal(h.commander.of('BLOCK_WRITE:3').length, writes + 1);
  h.commander.releaseAll(new Error('test over'));
  fresh.close();
  assert.equal(h.timers.pending, 0);
});

test('started while the link is already Synchronized, it only re-syncs the clock', async () => {
  const h = await harness();
  await synchronized(h);
  h.sync.close();
  const sent = h.commander.sent.length;
  const fresh = new Synchronizer({
    commander: h.commander,
    kernel: h.kernel,
    datastore: h.datastore,
    log: h.log,
    timers: h.timers,
    config: CONFIG,
    crash: (error) => h.crashes.push(error),
  });
  await fresh.start();
  await flush();
  assert.equal(fresh.status().step, 'synchronized');
  assert.equal(h.commander.sent.length, sent);
  await h.timers.advance(900_000);
  assert.equal(h.commander.sent.length, sent + 1);
  fresh.close();
  assert.equal(h.timers.pending, 0);
});

test('close clears every timer, whatever step it is in', async () => {
  const h = await harness();
  await h.connect();
  await h.timers.advance(2000);
  assert.ok(h.timers.pending > 0);
  cleanUp(h);
  await h.timers.advance(200_000);
  assert.equal(h.kernel.disconnects.length, 0);
});

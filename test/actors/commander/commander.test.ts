import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Commander,
  CHECK_FAILED_REASON,
  COMMANDER_DEFAULTS,
  type CommanderSettings,
} from '../../../actors/commander/commander.js';
import {
  BadResponseError,
  CommandTimeoutError,
  ControllerError,
  LinkLostError,
  NotReadyError,
  type KernelState,
} from '../../../contracts/actors.js';
import { CommanderBusyError, CommanderRecoveryRestartError } from '../../../actors/commander/errors.js';
import { TetherError } from '../../../runtime/errors.js';
import { FakeConnection, FakeKernel, FakeTimers, RecordingLog, drain, ok, stateOf, track } from './fakes.js';

interface Rig {
  commander: Commander;
  connection: FakeConnection;
  kernel: FakeKernel;
  timers: FakeTimers;
  log: RecordingLog;
  crashes: Error[];
  /** Tells the commander (and the fake kernel) about a new state. */
  setState(state: KernelState): void;
}

function rig(settings: Partial<CommanderSettings> = {}, state = stateOf('Synchronized', 1)): Rig {
  const connection = new FakeConnection();
  const kernel = new FakeKernel(state);
  const timers = new FakeTimers();
  const log = new RecordingLog();
  const crashes: Error[] = [];
  const commander = new Commander(
    { timeoutMs: 1000, checkTimeoutMs: 300, recovery: 'disconnect', ...settings },
    { connection, kernel, timers, log, crash: (error) => crashes.push(error) },
  );
  const setState = (next: KernelState): void => {
    kernel.current = next;
    commander.onKernelState(next);
  };
  setState(state);
  return { commander, connection, kernel, timers, log, crashes, setState };
}

const block = (id: number) => ({ id, type: 'TempSensor', data: { value: id / 10 } });

// ------------------------------------------------------------------ msgIds

test('msgIds start at 1 and go up by one per request, each written as a valid frame', async () => {
  const { commander, connection } = rig();
  void commander.request('BLOCK_READ', { id: 100 }).catch(() => undefined);
  void commander.request('NONE', undefined).catch(() => undefined);
  void commander.request('BLOCK_LIST', undefined).catch(() => undefined);
  await drain();
  assert.deepEqual(
    connection.writes.map((w) => [w.generation, w.frame.msgId, w.frame.opcode, w.frame.payload]),
    [
      [1, 1, 'BLOCK_READ', { id: 100 }],
      [1, 2, 'NONE', undefined],
      [1, 3, 'BLOCK_LIST', undefined],
    ],
  );
  assert.equal(commander.status().pending, 3);
  assert.equal(commander.status().sent, 3);
  commander.terminate();
});

test('the msgId wraps from 65535 to 1', async () => {
  const { commander, connection } = rig({ firstMsgId: 65535 });
  for (let i = 0; i < 2; i++) {
    const reply = commander.request('NONE', undefined);
    await drain();
    commander.onResponse(1, ok(connection.last));
    await reply;
  }
  assert.deepEqual(
    connection.writes.map((w) => w.frame.msgId),
    [65535, 1],
  );
});

test('after wrapping, a msgId still pending is skipped', async () => {
  const { commander, connection } = rig({ timeoutMs: 1_000_000 });
  const first = track(commander.request('NONE', undefined));
  await drain();
  assert.equal(connection.last.msgId, 1);
  // Every other id once round, each answered at once, so only msgId 1 stays pending.
  for (let i = 2; i <= 65535; i++) {
    const reply = commander.request('NONE', undefined);
    commander.onResponse(1, ok(connection.last));
    await reply;
  }
  assert.equal(connection.last.msgId, 65535);
  const next = commander.request('NONE', undefined);
  assert.equal(connection.last.msgId, 2, 'msgId 1 is still pending, so the wrap lands on 2');
  commander.onResponse(1, ok(connection.last));
  await next;
  assert.equal(first.settled, false);
  commander.onResponse(1, { msgId: 1, error: 'OK' });
  await drain();
  assert.equal(first.settled, true);
  assert.equal(first.error, undefined);
  assert.equal(commander.status().pending, 0);
});

// ---------------------------------------------------------------- matching

test('responses are matched by msgId whatever order they come in', async () => {
  const { commander, connection } = rig();
  const replies = [1, 2, 3].map((n) => commander.request('BLOCK_READ', { id: 100 + n }));
  await drain();
  const [a, b, c] = connection.writes.map((w) => w.frame);
  commander.onResponse(1, ok(c!, block(103)));
  commander.onResponse(1, ok(a!, block(101)));
  commander.onResponse(1, ok(b!, block(102)));
  const results = await Promise.all(replies);
  assert.deepEqual(
    results.map((r) => r.id),
    [101, 102, 103],
  );
  assert.equal(commander.status().pending, 0);
});

test('a VERSION answer resolves with its typed payload', async () => {
  const { commander, connection } = rig();
  const reply = commander.request('VERSION', undefined);
  await drain();
  const version = {
    firmware_version: '4558bdae',
    proto_version: 'b1698b6e',
    device_id: '123456789012345678901234',
  };
  commander.onResponse(1, ok(connection.last, version));
  assert.deepEqual(await reply, version);
});

test('a controller error code rejects with ControllerError carrying the code', async () => {
  const { commander, connection } = rig();
  const reply = commander.request('BLOCK_READ', { id: 999 });
  await drain();
  commander.onResponse(1, { msgId: connection.last.msgId, error: 'BLOCK_NOT_FOUND' });
  await assert.rejects(reply, (error: unknown) => {
    assert.ok(error instanceof ControllerError);
    assert.equal(error.code, 'TETHER_CONTROLLER_ERROR');
    assert.equal(error.detail.controllerCode, 'BLOCK_NOT_FOUND');
    assert.equal(error.detail.opcode, 'BLOCK_READ');
    return true;
  });
});

test('an OK answer whose payload does not fit the opcode rejects with BadResponseError', async () => {
  const { commander, connection } = rig();
  const reply = commander.request('BLOCK_READ', { id: 100 });
  await drain();
  commander.onResponse(1, ok(connection.last, { unexpected: true }));
  await assert.rejects(reply, BadResponseError);
});

test('a frame that answers a request but could not be accepted fails that request at once', async () => {
  const { commander, connection } = rig();
  const reply = track(commander.request('BLOCK_READ', { id: 100 }));
  const other = track(commander.request('BLOCK_READ', { id: 101 }));
  await drain();
  const first = connection.writes[0]!.frame.msgId;
  commander.onBadResponse(1, first, 'nested deeper than 32 levels');
  commander.onBadResponse(2, connection.last.msgId, 'another generation: ignored');
  commander.onBadResponse(1, 4242, 'matches nothing: ignored');
  await drain();
  assert.ok(reply.error instanceof BadResponseError);
  assert.equal(reply.error.detail.msgId, first);
  assert.equal(other.settled, false);
  assert.equal(commander.status().pending, 1);
  commander.terminate();
});

test('answers nobody asked for are counted, and logged at most a few per period with a suppressed count', async () => {
  const { commander, timers, log } = rig();
  for (let msgId = 1; msgId <= 10_000; msgId++) commander.onResponse(1, { msgId, error: 'OK' });
  assert.equal(commander.status().lateResponses, 10_000);
  const unmatched = (): typeof log.lines => log.lines.filter((l) => l.msg.startsWith('response matches no'));
  assert.equal(unmatched().length, COMMANDER_DEFAULTS.unmatchedLogBurst);
  await timers.advance(COMMANDER_DEFAULTS.unmatchedLogIntervalMs);
  commander.onResponse(1, { msgId: 7, error: 'OK' });
  assert.equal(unmatched().length, COMMANDER_DEFAULTS.unmatchedLogBurst + 1);
  assert.equal(
    unmatched().at(-1)!.fields?.suppressedSinceLast,
    10_000 - COMMANDER_DEFAULTS.unmatchedLogBurst,
  );
});

test('timeouts are logged a few per period with a suppressed count; an internal one only at debug', async () => {
  const { commander, timers, log } = rig({}, stateOf('Acknowledged', 1));
  const requests = Array.from({ length: 20 }, () =>
    commander.request('NONE', undefined, { minPhase: 'Acknowledged', timeoutMs: 100 }).catch(() => undefined),
  );
  const internal = commander
    .request('NONE', undefined, { minPhase: 'Acknowledged', timeoutMs: 100, internal: true })
    .catch(() => undefined);
  await timers.advance(100);
  await Promise.all([...requests, internal]);
  const warned = (): typeof log.lines => log.at('warn').filter((l) => l.msg === 'request timed out');
  assert.equal(commander.status().timedOut, 21);
  assert.equal(warned().length, COMMANDER_DEFAULTS.timeoutLogBurst);
  await timers.advance(COMMANDER_DEFAULTS.unmatchedLogIntervalMs);
  const last = commander
    .request('NONE', undefined, { minPhase: 'Acknowledged', timeoutMs: 100 })
    .catch(() => undefined);
  await timers.advance(100);
  await last;
  assert.equal(warned().at(-1)!.fields?.suppressedSinceLast, 20 - COMMANDER_DEFAULTS.timeoutLogBurst);
  commander.terminate();
});

// ---------------------------------------------------------------- phases

test('a request is refused at once with NotReadyError while Disconnected, whatever its minPhase', async () => {
  const { commander, connection } = rig({}, stateOf('Disconnected', 3));
  await assert.rejects(commander.request('NONE', undefined), NotReadyError);
  await assert.rejects(commander.request('NONE', undefined, { minPhase: 'Connected' }), (error: unknown) => {
    assert.ok(TetherError.is(error, 'TETHER_NOT_READY'));
    assert.equal(error.detail.phase, 'Disconnected');
    return true;
  });
  assert.equal(connection.writes.length, 0);
});

test('while Connected a default (Synchronized) request is refused and a minPhase Connected one is sent', async () => {
  const { commander, connection } = rig({}, stateOf('Connected', 2));
  await assert.rejects(commander.request('BLOCK_LIST', undefined), (error: unknown) => {
    assert.ok(error instanceof NotReadyError);
    assert.equal(error.detail.needs, 'Synchronized');
    return true;
  });
  await assert.rejects(commander.request('VERSION', undefined, { minPhase: 'Acknowledged' }), NotReadyError);
  const reply = commander.request('NONE', undefined, { minPhase: 'Connected' });
  await drain();
  assert.deepEqual(
    connection.writes.map((w) => [w.generation, w.frame.opcode]),
    [[2, 'NONE']],
  );
  commander.onResponse(2, ok(connection.last));
  assert.equal(await reply, undefined);
});

test('a commander behind the kernel catches up with kernel.state() before refusing', async () => {
  const { commander, connection, kernel } = rig({}, stateOf('Connected', 2));
  // The kernel moved on; its cast has not arrived yet, but synchronization already asks.
  kernel.current = stateOf('Acknowledged', 2);
  const reply = commander.request('VERSION', undefined, { minPhase: 'Acknowledged' });
  await drain();
  assert.equal(kernel.stateCalls, 1);
  assert.equal(connection.last.opcode, 'VERSION');
  commander.onResponse(2, ok(connection.last, { firmware_version: 'a', proto_version: 'b', device_id: 'c' }));
  await reply;
  // The late cast of the older state does not move the view back.
  commander.onKernelState(stateOf('Connected', 2));
  const again = commander.request('NONE', undefined, { minPhase: 'Acknowledged' });
  await drain();
  assert.equal(connection.writes.length, 2);
  commander.onResponse(2, ok(connection.last));
  await again;
});

// -------------------------------------------------------------- timeouts

test('a request with no answer rejects with CommandTimeoutError at its timeout', async () => {
  // Acknowledged, so that no NONE check (with timeouts of its own) joins in.
  const { commander, timers } = rig({ timeoutMs: 1000 }, stateOf('Acknowledged', 1));
  const reply = track(commander.request('BLOCK_READ', { id: 100 }, { minPhase: 'Acknowledged' }));
  const quick = track(commander.request('NONE', undefined, { minPhase: 'Acknowledged', timeoutMs: 200 }));
  await timers.advance(199);
  assert.equal(quick.settled, false);
  await timers.advance(1);
  assert.ok(quick.error instanceof CommandTimeoutError);
  assert.equal(quick.error.detail.timeoutMs, 200);
  assert.equal(reply.settled, false);
  await timers.advance(800);
  assert.ok(reply.error instanceof CommandTimeoutError);
  assert.equal(reply.error.detail.opcode, 'BLOCK_READ');
  assert.equal(commander.status().timedOut, 2);
  commander.terminate();
});

test('a response after the timeout is logged, counted as late and dropped', async () => {
  const { commander, connection, timers, log } = rig({}, stateOf('Connected', 1));
  const reply = track(commander.request('NONE', undefined, { minPhase: 'Connected', timeoutMs: 100 }));
  await drain();
  const sent = connection.last;
  await timers.advance(100);
  assert.ok(reply.error instanceof CommandTimeoutError);
  commander.onResponse(1, ok(sent));
  assert.equal(commander.status().lateResponses, 1);
  assert.ok(log.lines.some((l) => l.level === 'warn' && l.fields?.msgId === sent.msgId));
});

test('a response naming another generation does not settle the request with that msgId', async () => {
  const { commander, connection } = rig({}, stateOf('Synchronized', 2));
  const reply = track(commander.request('NONE', undefined));
  await drain();
  commander.onResponse(1, ok(connection.last));
  await drain();
  assert.equal(reply.settled, false);
  assert.equal(commander.status().lateResponses, 1);
  commander.onResponse(2, ok(connection.last));
  await drain();
  assert.equal(reply.settled, true);
  assert.equal(reply.error, undefined);
});

// ------------------------------------------------------------- link lost

test('on Disconnected every pending request rejects at once with LinkLostError', async () => {
  const { commander, timers, setState } = rig({ timeoutMs: 20_000 });
  const replies = [
    track(commander.request('BLOCK_READ', { id: 100 })),
    track(commander.request('BLOCK_LIST', undefined)),
    track(commander.request('NONE', undefined, { minPhase: 'Connected' })),
  ];
  await drain();
  setState(stateOf('Disconnected', 1, 'link closed by peer'));
  await drain();
  for (const reply of replies) {
    assert.equal(reply.settled, true, 'settled without waiting for its timeout');
    assert.ok(reply.error instanceof LinkLostError);
    assert.equal(reply.error.detail.why, 'link closed by peer');
  }
  assert.equal(commander.status().pending, 0);
  assert.equal(timers.active, 0, 'their timers were cancelled');
});

test('a state of a newer generation fails the older generation requests even if its Disconnected never came', async () => {
  const { commander, setState } = rig();
  const reply = track(commander.request('NONE', undefined));
  await drain();
  setState(stateOf('Connected', 2));
  await drain();
  assert.ok(reply.error instanceof LinkLostError);
});

test('a state change within the generation leaves pending requests alone', async () => {
  const { commander, connection, setState } = rig({}, stateOf('Acknowledged', 1));
  const reply = commander.request('BLOCK_READ', { id: 2 }, { minPhase: 'Acknowledged' });
  await drain();
  setState(stateOf('Synchronized', 1));
  commander.onResponse(1, ok(connection.last, block(2)));
  assert.equal((await reply).id, 2);
});

test('more requests than the pending bound are refused with CommanderBusyError', async () => {
  const { commander } = rig({ maxPending: 2 });
  const replies = [commander.request('NONE', undefined), commander.request('NONE', undefined)];
  await assert.rejects(commander.request('NONE', undefined), CommanderBusyError);
  commander.terminate();
  for (const reply of replies) await assert.rejects(reply, LinkLostError);
});

test('terminate fails everything pending, releases every timer and refuses later requests', async () => {
  const { commander, timers } = rig();
  const replies = [commander.request('NONE', undefined), commander.request('BLOCK_LIST', undefined)];
  commander.terminate();
  for (const reply of replies) await assert.rejects(reply, LinkLostError);
  assert.equal(timers.active, 0);
  await assert.rejects(commander.request('NONE', undefined), LinkLostError);
});

// -------------------------------------------------------- the NONE check

test('timeouts while Synchronized start exactly one NONE check; when it fails the kernel is asked once to disconnect', async () => {
  const { commander, connection, kernel, timers } = rig({ timeoutMs: 1000, checkTimeoutMs: 300 });
  const replies = [1, 2, 3].map((n) => track(commander.request('BLOCK_READ', { id: n + 100 })));
  await timers.advance(1000);
  for (const reply of replies) assert.ok(reply.error instanceof CommandTimeoutError);
  assert.deepEqual(connection.opcodes(), ['BLOCK_READ', 'BLOCK_READ', 'BLOCK_READ', 'NONE']);
  assert.equal(commander.stats.checksRun, 1);

  // While the check runs, a new request is held back (not written yet).
  const held = track(commander.request('BLOCK_LIST', undefined));
  await drain();
  assert.equal(connection.writes.length, 4);
  assert.equal(commander.status().pending, 2);

  await timers.advance(300);
  assert.deepEqual(kernel.disconnects, [{ generation: 1, reason: CHECK_FAILED_REASON }]);
  assert.ok(held.error instanceof LinkLostError, 'what was held fails with the link');
  await timers.advance(10_000);
  assert.equal(kernel.disconnects.length, 1);
  assert.equal(commander.stats.checksRun, 1);
  assert.equal(connection.writes.length, 4);
});

test('a NONE check that is answered asks for no disconnect and sends what was held back', async () => {
  const { commander, connection, kernel, timers } = rig({ timeoutMs: 1000, checkTimeoutMs: 300 });
  const slow = track(commander.request('BLOCK_READ', { id: 100 }));
  await timers.advance(1000);
  assert.ok(slow.error instanceof CommandTimeoutError);
  assert.equal(connection.last.opcode, 'NONE');
  const check = connection.last;
  const held = commander.request('BLOCK_READ', { id: 101 });
  await drain();
  assert.equal(connection.writes.length, 2);
  commander.onResponse(1, ok(check));
  await drain();
  assert.equal(connection.writes.length, 3);
  assert.equal(connection.last.opcode, 'BLOCK_READ');
  commander.onResponse(1, ok(connection.last, block(101)));
  assert.equal((await held).id, 101);
  await timers.advance(10_000);
  assert.deepEqual(kernel.disconnects, []);
  assert.equal(commander.stats.checkRunning, false);
  // A later timeout may start a new check.
  void commander.request('NONE', undefined).catch(() => undefined);
  await timers.advance(1000);
  assert.equal(commander.stats.checksRun, 2);
  commander.terminate();
});

test('internal requests go out during a check and their own timeouts start no check', async () => {
  const { commander, connection, timers } = rig({ timeoutMs: 1000, checkTimeoutMs: 300 });
  const internal = track(
    commander.request('NONE', undefined, { minPhase: 'Connected', timeoutMs: 100, internal: true }),
  );
  await timers.advance(100);
  assert.ok(internal.error instanceof CommandTimeoutError);
  assert.equal(commander.stats.checksRun, 0);
  void commander.request('NONE', undefined).catch(() => undefined);
  await timers.advance(1000);
  assert.equal(commander.stats.checkRunning, true);
  void commander.request('NONE', undefined, { internal: true, minPhase: 'Connected' }).catch(() => undefined);
  await drain();
  assert.deepEqual(connection.opcodes(), ['NONE', 'NONE', 'NONE', 'NONE']);
  commander.terminate();
});

test('a timeout outside Synchronized starts no check', async () => {
  const { commander, connection, kernel, timers } = rig({}, stateOf('Acknowledged', 1));
  void commander.request('VERSION', undefined, { minPhase: 'Acknowledged' }).catch(() => undefined);
  await timers.advance(5000);
  assert.deepEqual(connection.opcodes(), ['VERSION']);
  assert.deepEqual(kernel.disconnects, []);
});

test('a check cut short by a disconnect asks for nothing more', async () => {
  const { commander, kernel, timers, setState } = rig({ timeoutMs: 1000, checkTimeoutMs: 300 });
  void commander.request('NONE', undefined).catch(() => undefined);
  await timers.advance(1000);
  assert.equal(commander.stats.checkRunning, true);
  setState(stateOf('Disconnected', 1, 'peer closed'));
  await drain();
  assert.equal(commander.stats.checkRunning, false);
  await timers.advance(1000);
  assert.deepEqual(kernel.disconnects, []);
});

test('with recovery restart a failed check disconnects and then crashes the commander', async () => {
  const { commander, kernel, timers, crashes } = rig({
    timeoutMs: 1000,
    checkTimeoutMs: 300,
    recovery: 'restart',
  });
  void commander.request('NONE', undefined).catch(() => undefined);
  await timers.advance(1300);
  assert.equal(kernel.disconnects.length, 1);
  assert.equal(crashes.length, 1);
  assert.ok(crashes[0] instanceof CommanderRecoveryRestartError);
});

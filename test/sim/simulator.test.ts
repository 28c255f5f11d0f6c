import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../sim/index.js';
import type { Decoded, RequestFrame, ResponseFrame } from '../../protocol/index.js';
import { TetherError } from '../../runtime/errors.js';
import { Client, deadline } from './client.js';

type Out = Decoded<ResponseFrame>;
const isHandshake = (o: Out): boolean => o.kind === 'event' && o.event.type === 'handshake';

/** A simulator on an ephemeral port and one connected client, both released after `body`. */
async function withSim(
  options: SimulatorOptions,
  body: (sim: Simulator, client: Client) => Promise<void>,
): Promise<void> {
  const sim = await startSimulator({ port: 0, ...options });
  const clients: Client[] = [];
  try {
    const client = await Client.tcp(sim.address!.port);
    clients.push(client);
    await body(sim, client);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  }
}

function nextRequest(
  sim: Simulator,
  match: (r: RequestFrame) => boolean = () => true,
): Promise<RequestFrame> {
  let off = (): void => {};
  const seen = new Promise<RequestFrame>((resolve) => {
    off = sim.onRequest((r) => {
      if (match(r)) resolve(r);
    });
  });
  return deadline(seen, 3000, 'the simulator to receive a request').finally(() => off());
}

test('a new TCP connection is greeted with the default handshake', async () => {
  await withSim({}, async (_sim, client) => {
    const out = await client.waitFor(isHandshake);
    assert.deepEqual(out, {
      kind: 'event',
      event: {
        type: 'handshake',
        handshake: {
          firmwareVersion: '4558bdae',
          protoVersion: 'b1698b6e',
          firmwareDate: '2026-03-24',
          protoDate: '2026-03-15',
          systemVersion: '3.2.0',
          platform: 'sim',
          resetReason: '00',
          resetData: '00',
          deviceId: '123456789012345678901234',
        },
      },
    });
  });
});

test('NONE and VERSION are answered and each followed by a handshake', async () => {
  await withSim({}, async (_sim, client) => {
    await client.waitFor(isHandshake);
    assert.deepEqual(await client.request({ opcode: 'NONE' }), { msgId: 1, error: 'OK' });
    const version = await client.request({ opcode: 'VERSION' });
    assert.deepEqual(version.payload, {
      firmware_version: '4558bdae',
      proto_version: 'b1698b6e',
      device_id: '123456789012345678901234',
    });
    await client.waitFor(() => client.handshakes() === 3);
    assert.equal(client.decoder.counters.crcErrors, 0);
  });
});

test('blocks can be created, read, written, listed, deleted and cleared', async () => {
  await withSim({}, async (_sim, client) => {
    const created = await client.request({
      opcode: 'BLOCK_CREATE',
      payload: { type: 'TempSensor', data: { value: 20.5 } },
    });
    assert.deepEqual(created, {
      msgId: 1,
      error: 'OK',
      payload: { id: 100, type: 'TempSensor', data: { value: 20.5 } },
    });
    const chosen = await client.request({
      opcode: 'BLOCK_CREATE',
      payload: { id: 200, type: 'Pid', data: {} },
    });
    assert.equal(chosen.error, 'OK');
    const written = await client.request({
      opcode: 'BLOCK_WRITE',
      payload: { id: 100, type: 'TempSensor', data: { value: 21 } },
    });
    assert.deepEqual(written.payload, { id: 100, type: 'TempSensor', data: { value: 21 } });
    assert.deepEqual(
      (await client.request({ opcode: 'BLOCK_READ', payload: { id: 100 } })).payload,
      written.payload,
    );
    const list = await client.request({ opcode: 'BLOCK_LIST' });
    assert.deepEqual(
      (list.payload as { id: number }[]).map((b) => b.id),
      [2, 3, 100, 200],
    );
    assert.equal((await client.request({ opcode: 'BLOCK_DELETE', payload: { id: 100 } })).error, 'OK');
    assert.equal(
      (await client.request({ opcode: 'BLOCK_READ', payload: { id: 100 } })).error,
      'BLOCK_NOT_FOUND',
    );
    assert.equal((await client.request({ opcode: 'BLOCK_CLEAR' })).error, 'OK');
    assert.equal(
      (await client.request({ opcode: 'BLOCK_READ', payload: { id: 200 } })).error,
      'BLOCK_NOT_FOUND',
    );
  });
});

test('a BLOCK_LIST too long for one line is answered UNKNOWN_ERROR, and the simulator goes on answering', async () => {
  await withSim({}, async (_sim, client) => {
    const data = { note: 'x'.repeat(400) };
    for (let i = 0; i < 25; i += 1) {
      assert.equal(
        (await client.request({ opcode: 'BLOCK_CREATE', payload: { type: 'Big', data } })).error,
        'OK',
      );
    }
    assert.equal((await client.request({ opcode: 'BLOCK_LIST' })).error, 'UNKNOWN_ERROR');
    assert.equal((await client.request({ opcode: 'BLOCK_READ', payload: { id: 100 } })).error, 'OK');
  });
});

test('system blocks cannot be created or deleted and keep their type', async () => {
  await withSim({}, async (_sim, client) => {
    const r = (await client.request({ opcode: 'BLOCK_CREATE', payload: { id: 50, type: 'X', data: {} } }))
      .error;
    assert.equal(r, 'INVALID_BLOCK_ID');
    assert.equal(
      (await client.request({ opcode: 'BLOCK_DELETE', payload: { id: 2 } })).error,
      'INVALID_BLOCK_ID',
    );
    const wrongType = await client.request({
      opcode: 'BLOCK_WRITE',
      payload: { id: 3, type: 'SysInfo', data: {} },
    });
    assert.equal(wrongType.error, 'INVALID_BLOCK_TYPE');
    assert.equal(
      (await client.request({ opcode: 'BLOCK_WRITE', payload: { id: 9, type: 'X', data: {} } })).error,
      'BLOCK_NOT_FOUND',
    );
  });
});

test('the Ticks block sets the clock and SysInfo returns and resumes the trace', async () => {
  await withSim({}, async (_sim, client) => {
    const set = await client.request({
      opcode: 'BLOCK_WRITE',
      payload: { id: 3, type: 'Ticks', data: { secondsSinceEpoch: 1_800_000_000 } },
    });
    assert.equal(set.error, 'OK');
    const ticks = (await client.request({ opcode: 'BLOCK_READ', payload: { id: 3 } })).payload as {
      data: { secondsSinceEpoch: number; millisSinceBoot: number };
    };
    assert.ok(ticks.data.secondsSinceEpoch >= 1_800_000_000);
    assert.ok(Number.isInteger(ticks.data.millisSinceBoot));
    await client.request({ opcode: 'BLOCK_CREATE', payload: { type: 'Pid', data: {} } });
    const trace = (
      await client.request({
        opcode: 'BLOCK_WRITE',
        payload: { id: 2, type: 'SysInfo', data: { command: 'TRACE_READ_RESUME' } },
      })
    ).payload as { data: { trace: unknown[]; deviceId: string } };
    assert.deepEqual(trace.data.trace, [{ action: 'BLOCK_CREATE', id: 100, type: 'Pid' }]);
    assert.equal(trace.data.deviceId, '123456789012345678901234');
  });
});

test('an unknown opcode and a malformed payload get their error codes; a bad CRC gets nothing', async () => {
  await withSim({}, async (sim, client) => {
    await client.link.write('{"msgId":9,"opcode":"NONE"}#00\n');
    await client.link.write('{"msgId":10,"opcode":"DANCE"}#' + crcOf('{"msgId":10,"opcode":"DANCE"}') + '\n');
    const invalid = await client.waitFor((o) => o.kind === 'frame' && o.frame.msgId === 10);
    assert.deepEqual(invalid, { kind: 'frame', frame: { msgId: 10, error: 'INVALID_OPCODE' } });
    assert.equal(
      (await client.request({ opcode: 'BLOCK_READ', payload: { id: -1 } } as never)).error,
      'INVALID_PAYLOAD',
    );
    // Answers come in order, so msgId 9 (bad CRC, sent first) will never be answered.
    assert.ok(!client.seen.some((o) => o.kind === 'frame' && o.frame.msgId === 9));
    assert.equal(sim.stats.badFrames, 1);
  });
});

test('a silent controller accepts requests and answers nothing until it is back', async () => {
  await withSim({}, async (sim, client) => {
    await client.waitFor(isHandshake);
    sim.faults.silent = true;
    const received = nextRequest(sim);
    const lost = await client.send({ opcode: 'NONE' });
    await received;
    sim.faults.silent = false;
    const answered = await client.request({ opcode: 'NONE' });
    assert.equal(answered.error, 'OK');
    assert.ok(!client.seen.some((o) => o.kind === 'frame' && o.frame.msgId === lost));
    assert.equal(client.handshakes(), 2); // on connect, and after the answered NONE only
  });
});

test('dropping the connection closes the client link', async () => {
  await withSim({}, async (sim, client) => {
    await client.waitFor(isHandshake);
    sim.faults.drop();
    await deadline(client.closed, 3000, 'the link to close');
    assert.equal(client.link.closed, true);
  });
});

test('a reset drops TCP, never answers pending requests, and the next handshake carries the reason', async () => {
  await withSim({ faults: { responseDelayMs: 10_000 } }, async (sim, client) => {
    await client.waitFor(isHandshake);
    const received = nextRequest(sim);
    await client.send({ opcode: 'BLOCK_LIST' });
    await received;
    sim.faults.reset('3C', '01');
    await deadline(client.closed, 3000, 'the link to close');
    assert.ok(!client.seen.some((o) => o.kind === 'frame'));
    sim.faults.responseDelayMs = 0;
    const again = await Client.tcp(sim.address!.port);
    try {
      const hs = await again.waitFor(isHandshake);
      assert.ok(hs.kind === 'event' && hs.event.type === 'handshake');
      assert.equal(hs.event.handshake.resetReason, '3C');
      assert.equal(hs.event.handshake.resetData, '01');
    } finally {
      await again.close();
    }
  });
});

test('REBOOT is answered, then the controller resets with reason USER', async () => {
  await withSim({ rebootDelayMs: 5 }, async (sim, client) => {
    assert.equal((await client.request({ opcode: 'REBOOT' })).error, 'OK');
    await deadline(client.closed, 3000, 'the link to close');
    const again = await Client.tcp(sim.address!.port);
    try {
      const hs = await again.waitFor(isHandshake);
      assert.ok(hs.kind === 'event' && hs.event.type === 'handshake');
      assert.equal(hs.event.handshake.resetReason, '8C');
    } finally {
      await again.close();
    }
  });
});

test('FIRMWARE_UPDATE announces the updater and then drops the connection', async () => {
  await withSim({ rebootDelayMs: 5 }, async (_sim, client) => {
    assert.equal((await client.request({ opcode: 'FIRMWARE_UPDATE' })).error, 'OK');
    await client.waitFor((o) => o.kind === 'event' && o.event.type === 'firmwareUpdater');
    await deadline(client.closed, 3000, 'the link to close');
  });
});

test('after line noise the client counts garbage and traffic resumes', async () => {
  await withSim({}, async (sim, client) => {
    await client.waitFor(isHandshake);
    const before = client.decoder.counters.bytes;
    sim.faults.noise(600);
    await client.send({ opcode: 'NONE' }); // may be swallowed by the noise on its line
    assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
    assert.ok(client.decoder.counters.bytes >= before + 600);
  });
});

test('slow responses arrive late and in order', async () => {
  await withSim({ faults: { responseDelayMs: 150 } }, async (_sim, client) => {
    const started = performance.now();
    const ids = await Promise.all([
      client.send({ opcode: 'BLOCK_LIST' }),
      client.send({ opcode: 'NONE' }),
      client.send({ opcode: 'BLOCK_READ', payload: { id: 3 } }),
    ]);
    await client.waitFor((o) => o.kind === 'frame' && o.frame.msgId === ids[2]);
    assert.ok(performance.now() - started >= 140);
    const order = client.seen.flatMap((o) => (o.kind === 'frame' ? [o.frame.msgId] : []));
    assert.deepEqual(order, ids);
  });
});

test('in setup mode the controller says so and answers nothing until it leaves', async () => {
  await withSim({}, async (sim, client) => {
    await client.waitFor(isHandshake);
    sim.faults.enterSetupMode();
    await client.waitFor((o) => o.kind === 'event' && o.event.type === 'setupMode');
    const received = nextRequest(sim);
    const lost = await client.send({ opcode: 'NONE' });
    await received;
    sim.faults.leaveSetupMode();
    assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
    assert.ok(!client.seen.some((o) => o.kind === 'frame' && o.frame.msgId === lost));
  });
});

test('busy opcodes are answered BUSY and the others as usual', async () => {
  await withSim({ faults: { busyOpcodes: ['BLOCK_WRITE'] } }, async (_sim, client) => {
    const write = await client.request({
      opcode: 'BLOCK_WRITE',
      payload: { id: 3, type: 'Ticks', data: { secondsSinceEpoch: 1 } },
    });
    assert.equal(write.error, 'BUSY');
    assert.equal((await client.request({ opcode: 'BLOCK_READ', payload: { id: 3 } })).error, 'OK');
  });
});

test('with setup-mode-on-connect every new connection hears <!SETUP_MODE> after its handshake', async () => {
  await withSim({ faults: { setupModeOnConnect: true } }, async (_sim, client) => {
    const setup = await client.waitFor((o) => o.kind === 'event' && o.event.type === 'setupMode');
    assert.ok(client.seen.findIndex(isHandshake) < client.seen.indexOf(setup));
    // Only announced: the controller still answers (the fault is the announcement on every connection).
    assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
  });
});

test('nested payloads and unsolicited responses reach the client as the faults say', async () => {
  await withSim({}, async (sim, client) => {
    await client.waitFor(isHandshake);
    sim.faults.nestedPayloadDepth = 100;
    const msgId = await client.send({ opcode: 'BLOCK_READ', payload: { id: 3 } });
    // Past the codec's bound: the client's decoder counts it as bad, naming its msgId.
    const bad = await client.waitFor((o) => o.kind === 'error' && o.msgId === msgId);
    assert.ok(bad.kind === 'error' && bad.error === 'badFields');
    sim.faults.respond(777, 'BUSY');
    const unsolicited = await client.waitFor((o) => o.kind === 'frame' && o.frame.msgId === 777);
    assert.ok(unsolicited.kind === 'frame' && unsolicited.frame.error === 'BUSY');
  });
});

test('with handshake-after-none the first handshake follows the first NONE response', async () => {
  await withSim({ faults: { handshakeOnlyAfterNone: true } }, async (_sim, client) => {
    const response = await client.request({ opcode: 'NONE' });
    const handshake = await client.waitFor(isHandshake);
    const responseAt = client.seen.findIndex((o) => o.kind === 'frame' && o.frame.msgId === response.msgId);
    assert.ok(client.seen.indexOf(handshake) > responseAt);
    assert.equal(client.handshakes(), 1);
  });
});

test('a different proto_version and device id show in the next handshake', async () => {
  await withSim({ protoVersion: 'deadbeef' }, async (sim, client) => {
    const first = await client.waitFor(isHandshake);
    assert.ok(first.kind === 'event' && first.event.type === 'handshake');
    assert.equal(first.event.handshake.protoVersion, 'deadbeef');
    sim.faults.deviceId = 'AAAAAAAAAAAAAAAAAAAAAAAA';
    await client.request({ opcode: 'NONE' });
    await client.waitFor(() => client.handshakes() === 2);
    const last = client.seen.filter(isHandshake).at(-1);
    assert.ok(last?.kind === 'event' && last.event.type === 'handshake');
    assert.equal(last.event.handshake.deviceId, 'AAAAAAAAAAAAAAAAAAAAAAAA');
  });
});

test('log annotations inside data lines leave every response intact', async () => {
  await withSim({ faults: { annotateLines: true } }, async (sim, client) => {
    for (let i = 0; i < 20; i++)
      assert.equal((await client.request({ opcode: 'BLOCK_READ', payload: { id: 2 } })).error, 'OK');
    assert.ok(client.decoder.counters.logs >= 20);
    sim.faults.log('WARN', 'hello');
    sim.faults.cboxError(0x2a);
    await client.waitFor((o) => o.kind === 'event' && o.event.type === 'cboxError' && o.event.code === 0x2a);
    const c = client.decoder.counters;
    assert.equal(c.crcErrors + c.framingErrors + c.rawBracket + c.badJson + c.badFields, 0);
  });
});

test('closing the simulator closes its connections and refuses new serial attachments', async () => {
  const sim = await startSimulator({ port: 0 });
  const client = await Client.tcp(sim.address!.port);
  await client.waitFor(isHandshake);
  await sim.close();
  await deadline(client.closed, 3000, 'the link to close');
  await assert.rejects(sim.attachPty(), (e: unknown) => TetherError.is(e, 'TETHER_SIM_CLOSED'));
  await sim.close();
});

test('a busy port is a clear listen error', async () => {
  const first = await startSimulator({ port: 0 });
  try {
    await assert.rejects(
      startSimulator({ port: first.address!.port }),
      (e: unknown) => (e as { code?: string }).code === 'EADDRINUSE',
    );
  } finally {
    await first.close();
  }
});

test('over a pseudo-terminal the controller answers, and a reset brings a new handshake on the open port', async () => {
  const sim = await startSimulator({ port: false, faults: { responseDelayMs: 0 } });
  try {
    const { path } = await sim.attachPty();
    const client = await Client.serial(path);
    try {
      assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
      await client.waitFor(isHandshake);
      sim.faults.responseDelayMs = 10_000;
      const received = nextRequest(sim);
      const lost = await client.send({ opcode: 'BLOCK_LIST' });
      await received;
      const from = client.seen.length;
      sim.faults.reset('32', '00');
      const hs = await client.waitFor(isHandshake, 3000, from);
      assert.ok(hs.kind === 'event' && hs.event.type === 'handshake');
      assert.equal(hs.event.handshake.resetReason, '32');
      sim.faults.responseDelayMs = 0;
      assert.equal((await client.request({ opcode: 'NONE' })).error, 'OK');
      assert.ok(!client.seen.some((o) => o.kind === 'frame' && o.frame.msgId === lost));
      assert.equal(client.link.closed, false);
    } finally {
      await client.close();
    }
  } finally {
    await sim.close();
  }
});

function crcOf(json: string): string {
  let crc = 0;
  for (const byte of Buffer.from(json)) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8c : crc >>> 1;
  }
  return crc.toString(16).toUpperCase().padStart(2, '0');
}

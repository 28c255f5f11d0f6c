/**
 * The readable log line, formatted by pino-pretty with our options (no
 * stream: `prettyFactory` turns one record into one line, as the CLI's
 * destination does), and the choice between it and JSON lines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prettyFactory } from 'pino-pretty';
import { prettyOptions, resolveLogFormat, safeText, useColour } from '../../cli/logging.js';

const plainLine = prettyFactory(prettyOptions(false));
const colourLine = prettyFactory(prettyOptions(true));
// 2026-11-22 14:03:21.042 in local time, whatever the machine's zone.
const TIME = new Date(2026, 10, 22, 14, 3, 21, 42).getTime();
// eslint-disable-next-line no-control-regex
const ESC = /\u001b/;
/** What must never reach a terminal from a log field: C0 but newline, DEL, C1. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function record(level: number, msg: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ level, time: TIME, pid: 4242, hostname: 'box', name: 'tether', msg, ...fields });
}

describe('readable log lines', () => {
  it('an actor line reads: local time, level name, actor, message, then its fields as key=value', () => {
    const line = plainLine(
      record(30, 'connected', {
        actor: 'connection',
        incarnation: 2,
        address: 'tcp://127.0.0.1:8332',
        generation: 3,
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        span_id: 'b7ad6b7169203331',
      }),
    );
    assert.equal(
      line,
      '14:03:21.042  INFO: [connection] connected  address=tcp://127.0.0.1:8332 generation=3\n',
    );
  });

  it('a phase transition is marked, and drops the fields its message already says', () => {
    const line = plainLine(
      record(30, 'phase Connected -> Acknowledged (acknowledged)', {
        event: 'phase',
        from: 'Connected',
        to: 'Acknowledged',
        generation: 1,
        reason: 'acknowledged',
        durationMs: 373,
        deviceId: '123456789012345678901234',
      }),
    );
    assert.equal(
      line,
      '14:03:21.042  INFO: ==> phase Connected -> Acknowledged (acknowledged)  durationMs=373 deviceId=123456789012345678901234\n',
    );
  });

  it('with colours, phase transitions and supervision events are bold and other lines are not', () => {
    const phase = colourLine(
      record(30, 'phase Acknowledged -> Synchronized (synchronized)', { event: 'phase', to: 'Synchronized' }),
    );
    const supervision = colourLine(
      record(40, 'connection exited: crash', {
        event: 'child-exited',
        supervisor: 'device',
        child: 'connection',
        reason: 'crash',
      }),
    );
    const plain = colourLine(record(30, 'supervision tree up'));
    const BOLD = '\u001b[1m';
    assert.ok(phase.includes(BOLD) && phase.includes('==> phase Acknowledged -> Synchronized'), phase);
    assert.ok(supervision.includes(BOLD) && supervision.includes('[device]'), supervision);
    assert.ok(!plain.includes(BOLD), plain);
    assert.ok(ESC.test(plain), 'the level and time are coloured');
  });

  it('a supervision event names its supervisor and leaves out what the message says', () => {
    const line = plainLine(
      record(40, 'connection exited: crash (Error: boom)', {
        event: 'child-exited',
        supervisor: 'device',
        child: 'connection',
        reason: 'crash (Error: boom)',
      }),
    );
    assert.equal(line, '14:03:21.042  WARN: [device] connection exited: crash (Error: boom)\n');
  });

  it('an error line carries the error code and message, then its stack indented; a warning only the summary', () => {
    const err = {
      type: 'LinkOpenError',
      code: 'TETHER_LINK_OPEN_FAILED',
      message: 'cannot open /dev/ttyACM0',
      stack:
        'LinkOpenError: cannot open /dev/ttyACM0\n    at open (serial.js:10:5)\n    at connect (connection.js:20:7)',
    };
    const error = plainLine(record(50, 'the service failed to start', { err }));
    assert.equal(
      error,
      '14:03:21.042 ERROR: the service failed to start  err=TETHER_LINK_OPEN_FAILED: cannot open /dev/ttyACM0' +
        '\n      at open (serial.js:10:5)\n      at connect (connection.js:20:7)\n',
    );
    const warning = plainLine(record(40, 'demo call failed', { actor: 'loner', err }));
    assert.equal(
      warning,
      '14:03:21.042  WARN: [loner] demo call failed  err=TETHER_LINK_OPEN_FAILED: cannot open /dev/ttyACM0\n',
    );
  });

  it('control characters from outside input never reach the terminal: message, fields and actor are escaped', () => {
    const hostile =
      'evil\u001b[2J\u001b[31m\u001b]0;pwned\u0007\r\nFAKE 12:00:00.000  INFO: all good\u009b31m';
    const fields = (text: string) => ({ actor: `con${text}`, payload: text, nested: { text } });
    const plain = plainLine(record(40, `bad frame ${hostile}`, fields(hostile)));
    assert.equal(UNSAFE.exec(plain), null, JSON.stringify(plain));
    assert.equal(plain.split('\n').length, 2, 'one line per event');
    assert.ok(plain.includes('evil\\u001b[2J'), 'shown as a visible escape');
    // With colours on, the only escape sequences are our own: as many as for harmless text.
    const escapes = (line: string) => line.split('\u001b').length - 1;
    const coloured = colourLine(record(40, `bad frame ${hostile}`, fields(hostile)));
    assert.equal(escapes(coloured), escapes(colourLine(record(40, 'bad frame x', fields('x')))));
  });

  it('values are quoted when they hold spaces, objects are JSON, and long values are cut', () => {
    const line = plainLine(
      record(30, 'status', { reason: 'service stopping', group: ['a', 'b'], long: 'x'.repeat(500) }),
    );
    assert.match(line, /reason="service stopping" group=\["a","b"\] long="x{119}…"\n$/);
  });

  it('a line that is not JSON passes through as it is', () => {
    assert.equal(plainLine('not json'), 'not json\n');
  });

  it('safeText escapes C0, DEL, C1 and line separators, and leaves other text alone', () => {
    assert.equal(safeText('a\nb\tc\u007f\u0085\u2028é→'), 'a\\nb\\tc\\u007f\\u0085\\u2028é→');
  });
});

describe('choosing the log format', () => {
  it('auto is pretty on a terminal and JSON lines anywhere else; json and pretty are taken as given', () => {
    const table: Array<[Parameters<typeof resolveLogFormat>[0], boolean, 'json' | 'pretty']> = [
      ['auto', true, 'pretty'],
      ['auto', false, 'json'],
      ['json', true, 'json'],
      ['json', false, 'json'],
      ['pretty', true, 'pretty'],
      ['pretty', false, 'pretty'],
    ];
    for (const [format, tty, expected] of table) {
      assert.equal(resolveLogFormat(format, tty), expected, `${format} on ${tty ? 'a terminal' : 'a pipe'}`);
    }
  });

  it('colours: NO_COLOR wins, then FORCE_COLOR, then a terminal that is not dumb', () => {
    const table: Array<[NodeJS.ProcessEnv, boolean, boolean]> = [
      [{}, true, true],
      [{}, false, false],
      [{ TERM: 'dumb' }, true, false],
      [{ NO_COLOR: '1' }, true, false],
      [{ NO_COLOR: '' }, true, true],
      [{ FORCE_COLOR: '1' }, false, true],
      [{ FORCE_COLOR: '0' }, true, false],
      [{ NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
    ];
    for (const [env, tty, expected] of table) {
      assert.equal(
        useColour(env, tty),
        expected,
        `${JSON.stringify(env)} on ${tty ? 'a terminal' : 'a pipe'}`,
      );
    }
  });
});

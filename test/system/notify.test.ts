import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import type { Logger } from '../../runtime/logger.js';
import { createNotifier, statusLine } from '../../system/index.js';
import { socatAddress } from '../../system/notify.js';
import { startNotifyReceiver, type NotifyReceiver } from './notify-receiver.js';
import { runNode } from './run-node.js';

const NOTIFY_RUN = new URL('./fixtures/notify-run.js', import.meta.url);

/** A logger that keeps what it is given, to check what was reported. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      lines.push({ level, msg: typeof a === 'string' ? a : String(b) });
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  } as unknown as Logger & {
    lines: Array<{ level: string; msg: string }>;
  };
}

const texts = (receiver: NotifyReceiver): string[] => receiver.messages.map((m) => m.message);

describe('systemd notification', () => {
  const receivers: NotifyReceiver[] = [];
  after(async () => {
    for (const r of receivers) {
      await r.close();
      if (r.socket.startsWith('/')) await unlink(r.socket).catch(() => undefined);
    }
  });
  const receiver = async (kind: 'path' | 'abstract' = 'path'): Promise<NotifyReceiver> => {
    const r = await startNotifyReceiver(kind);
    receivers.push(r);
    return r;
  };

  test('messages arrive on the socket as one datagram each, in the order they were sent', async () => {
    const socket = await receiver();
    const notifier = createNotifier({ NOTIFY_SOCKET: socket.socket });
    assert.equal(notifier.enabled, true);
    notifier.ready('Disconnected; device any');
    notifier.status('Connected; serial /dev/ttyACM0');
    notifier.watchdog();
    notifier.status('Synchronized; device 0123456789abcdef01234567');
    notifier.watchdog();
    notifier.stopping('Stopping: SIGTERM');
    await socket.waitFor((m) => m.length >= 6);
    await notifier.close();
    assert.deepEqual(texts(socket), [
      'READY=1\nSTATUS=Disconnected; device any',
      'STATUS=Connected; serial /dev/ttyACM0',
      'WATCHDOG=1',
      'STATUS=Synchronized; device 0123456789abcdef01234567',
      'WATCHDOG=1',
      'STOPPING=1\nSTATUS=Stopping: SIGTERM',
    ]);
  });

  test('an abstract socket (NOTIFY_SOCKET=@name) works too', async () => {
    const socket = await receiver('abstract');
    assert.ok(socket.socket.startsWith('@'));
    const notifier = createNotifier({ NOTIFY_SOCKET: socket.socket });
    notifier.ready();
    notifier.stopping();
    await socket.waitFor((m) => m.length >= 2);
    await notifier.close();
    assert.deepEqual(texts(socket), ['READY=1', 'STOPPING=1']);
  });

  test('without NOTIFY_SOCKET every method is a no-op', async () => {
    const notifier = createNotifier({});
    assert.equal(notifier.enabled, false);
    notifier.ready('x');
    notifier.status('x');
    notifier.watchdog();
    notifier.stopping();
    await notifier.close();
  });

  test('without socat it falls back to systemd-notify, and says so once', async (t) => {
    const socket = await receiver();
    const logger = recordingLogger();
    const notifier = createNotifier(
      { NOTIFY_SOCKET: socket.socket },
      // systemd-notify (246+) then waits for systemd to confirm with a barrier, which socat never does: a
      // timeout ends each wait (the message itself went out before it). Not a short one: a loaded machine
      // can take over a second to start systemd-notify, and one cut before it sends drops the message.
      { logger, socat: '/nonexistent/socat', systemdNotify: 'systemd-notify', sendTimeoutMs: 3000 },
    );
    notifier.ready('up');
    notifier.status('still up');
    try {
      await socket.waitFor((m) => m.some((x) => x.message.startsWith('STATUS=still up')), 20_000);
    } catch (error) {
      await notifier.close();
      // A machine without systemd-notify (a container) cannot run this case; the next one covers it.
      if (logger.lines.some((l) => l.level === 'error'))
        return t.skip('systemd-notify is not installed here');
      throw error;
    }
    await notifier.close();
    // systemd-notify may add its own BARRIER=1 datagrams (systemd 246+): only ours are checked, in order.
    const ours = texts(socket).filter((m) => !m.startsWith('BARRIER='));
    assert.deepEqual(ours, ['READY=1\nSTATUS=up', 'STATUS=still up']);
    assert.equal(
      logger.lines.filter((l) => l.level === 'warn' && l.msg.includes('socat not found')).length,
      1,
    );
  });

  test('with no helper at all it logs one error, turns itself off and never throws', async () => {
    const logger = recordingLogger();
    const notifier = createNotifier(
      { NOTIFY_SOCKET: '/nonexistent/notify.sock' },
      { logger, socat: '/nonexistent/socat', systemdNotify: '/nonexistent/systemd-notify' },
    );
    notifier.ready();
    notifier.watchdog();
    await notifier.close();
    notifier.status('after close');
    assert.equal(notifier.enabled, false);
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 1);
  });

  test('a socket nobody listens on is logged once, and messages go out again once it is back', async () => {
    const logger = recordingLogger();
    const first = await receiver();
    await first.close();
    await unlink(first.socket).catch(() => undefined);
    const notifier = createNotifier({ NOTIFY_SOCKET: first.socket }, { logger });
    notifier.ready();
    notifier.watchdog();
    notifier.watchdog();
    // Each failed send is handled (dropped) before the next: wait until all three were.
    const deadline = Date.now() + 5000;
    while (logger.lines.filter((l) => l.level === 'warn' || l.level === 'debug').length < 3) {
      assert.ok(Date.now() < deadline, `failures not reported: ${JSON.stringify(logger.lines)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 1);
    const back = await startNotifyReceiver('path', first.socket);
    receivers.push(back);
    notifier.status('back');
    await back.waitFor((m) => m.length >= 1);
    await notifier.close();
    assert.deepEqual(texts(back), ['STATUS=back']);
  });

  test('a service loop that stops pinging only exits by itself: the helper does not keep it alive', async () => {
    const socket = await receiver();
    const run = await runNode(NOTIFY_RUN, ['0', '0', '50'], {
      env: { ...process.env, NOTIFY_SOCKET: socket.socket, WATCHDOG_USEC: '' },
      timeoutMs: 30_000,
    });
    assert.equal(run.code, 0, run.stderr);
    await socket.waitFor((m) => m.length >= 2, 10_000);
    assert.deepEqual(texts(socket), [
      'READY=1\nSTATUS=Disconnected; device any',
      'STOPPING=1\nSTATUS=Stopping',
    ]);
  });

  test('a status line is one line of bounded length', () => {
    assert.equal(statusLine('a\nb\r\nc '), 'a b c');
    assert.ok(statusLine('x'.repeat(5000)).length <= 512);
  });

  test('socat addresses: a path, an abstract name, and nothing for what socat would misread', () => {
    assert.equal(socatAddress('/run/systemd/notify'), 'UNIX-SENDTO:/run/systemd/notify');
    assert.equal(socatAddress('@tether/notify'), 'ABSTRACT-SENDTO:tether/notify');
    assert.equal(socatAddress('/tmp/a,b'), undefined);
    assert.equal(socatAddress('vsock:2:1234'), undefined);
    assert.equal(socatAddress('@'), undefined);
  });
});

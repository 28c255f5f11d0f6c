/**
 * `tether status` and `tether tree` against a running service's HTTP API:
 * what a person reads, the JSON a script reads, and an unreachable service.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { formatDuration, formatTree, runStatusCommand } from '../../cli/status-command.js';
import type { StatusIo } from '../../cli/status-command.js';
import type { StatusView, TreeView } from '../../http/index.js';
import { withApi } from '../http/fixture.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const HOSTILE_FIRMWARE = '\u001b]0;pwned\u0007\u001b[2J';
const HOSTILE_PLATFORM = 'sim\u202e\u009b31m';

/** C0 (but the newlines between lines), DEL, C1, the line separators and the bidi controls. */
const UNPRINTABLE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/; // eslint-disable-line no-control-regex

function assertPrintable(text: string): void {
  const found = UNPRINTABLE.exec(text);
  assert.equal(
    found,
    null,
    `an unescaped U+${found?.[0].charCodeAt(0).toString(16).padStart(4, '0')} in:\n${text}`,
  );
}

async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A plain HTTP server on loopback answering fixed JSON by path: a service that says what the test wants. */
async function withJsonServer(
  answers: Record<string, [number, unknown]>,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const server = createHttpServer((request, response) => {
    const [status, json] = answers[request.url ?? ''] ?? [404, { error: { code: 'TETHER_HTTP_NOT_FOUND' } }];
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function captureIo(color = false): StatusIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    env: {},
    color,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

describe('tether status and tether tree', () => {
  it('print the phase, device and counters, and the tree, for a person; --json gives the API’s JSON', () =>
    withApi(async ({ api, phases, sim }) => {
      await phases.waitFor('Synchronized');
      const status = captureIo();
      assert.equal(await runStatusCommand('status', { url: api.address.url }, status), 0, status.err);
      assert.match(status.out, /^● tether - Synchronized/);
      assert.match(status.out, new RegExp(`Address: +tcp://127\\.0\\.0\\.1:${sim.address?.port}`));
      assert.match(status.out, new RegExp(`Device: +${sim.faults.deviceId}`));
      assert.match(status.out, /Autoconnect: +on/);
      assert.match(status.out, /Acknowledged -> Synchronized/);
      assert.equal(status.out.includes('\u001b['), false, 'no colour when not on a terminal');

      const tree = captureIo();
      assert.equal(await runStatusCommand('tree', { url: api.address.url }, tree), 0, tree.err);
      assert.deepEqual(
        tree.out.split('\n').map((line) => line.replace(/ restarts.*$/, '')),
        [
          'root running',
          '├─device running #1',
          '│ ├─connection running #1',
          '│ ├─commander running #1',
          '│ └─synchronization running #1',
          '├─watchdog running #1',
          '└─tasks running #1',
          '  └─task-pool running #1',
          '',
        ],
      );

      const json = captureIo();
      assert.equal(await runStatusCommand('tree', { url: api.address.url, json: true }, json), 0);
      assert.equal((JSON.parse(json.out) as TreeView).state, 'running');
    }));

  it('exit 1 with the reason when nothing answers at the URL', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const io = captureIo();
    assert.equal(await runStatusCommand('status', { url: `http://127.0.0.1:${port}` }, io), 1);
    assert.match(io.err, /cannot reach the service at .*ECONNREFUSED/);
  });

  it('the tree shows a last exit and colours a stopped child on a terminal', () => {
    const tree: TreeView = {
      id: 'root',
      state: 'running',
      children: [
        {
          id: 'watchdog',
          kind: 'worker',
          restart: 'permanent',
          status: 'stopped',
          incarnation: 3,
          restarts: 2,
          lastExit: {
            kind: 'crash',
            description: 'crash (uncaughtException): boom',
            at: '2026-01-02T03:04:05.000Z',
          },
        },
      ],
    };
    const text = formatTree(tree, { color: true });
    assert.ok(text.includes('\u001b[31mstopped\u001b[39m'), text);
    assert.match(text, /last exit crash \(uncaughtException\): boom at 03:04:05/);
  });

  it('the tree shows a pool child with its threads, queue, how busy it is and the tasks it has run', () => {
    const tree: TreeView = {
      id: 'root',
      state: 'running',
      children: [
        {
          id: 'task-pool',
          kind: 'pool',
          restart: 'permanent',
          status: 'running',
          incarnation: 1,
          restarts: 0,
          lastExit: null,
          pool: { threads: 1, queueSize: 2, running: 1, utilization: 0.425, completed: 7, failed: 1 },
        },
      ],
    };
    assert.match(
      formatTree(tree, { color: false }),
      /task-pool running #1 restarts 0 {2}threads 1, queue 2, busy 43%, 7 done/,
    );
  });

  it('a controller whose handshake fields carry terminal escapes cannot write them to the terminal: tether status shows them escaped', () =>
    withApi(
      async ({ api, phases }) => {
        await phases.waitFor('Synchronized');
        const human = await runCli(['status', '--url', api.address.url]);
        assert.equal(human.code, 0, human.stderr);
        assertPrintable(human.stdout);
        assert.ok(human.stdout.includes(String.raw`\x1b]0;pwned\x07\x1b[2J`), human.stdout);
        assert.ok(human.stdout.includes(String.raw`on sim\u202e\x9b31m`), human.stdout);

        const json = await runCli(['status', '--url', api.address.url, '--json']);
        assert.equal(json.code, 0, json.stderr);
        assertPrintable(json.stdout);
        // Escaped for the terminal, and still the same JSON.
        const status = JSON.parse(json.stdout) as StatusView;
        assert.equal(status.device?.handshake['firmwareVersion'], HOSTILE_FIRMWARE);
        assert.equal(status.device?.handshake['platform'], HOSTILE_PLATFORM);
      },
      { sim: { firmwareVersion: HOSTILE_FIRMWARE, platform: HOSTILE_PLATFORM } },
    ));

  it('every string from the service is printed escaped, keys included, in status, tree and error answers', async () => {
    const evil = '\u001b[31mred\u001b[0m\u0007\u009b2J\u202eabc\u2066\r\n\u007f';
    const status = {
      phase: `Synchronized${evil}`,
      generation: 1,
      since: '2026-01-02T03:04:05.000Z',
      inPhaseMs: 1000,
      disconnectReason: evil,
      address: `tcp://x${evil}`,
      transport: evil,
      device: { deviceId: evil, handshake: { firmwareVersion: evil, protoVersion: evil, platform: evil } },
      firmwareError: evil,
      identityError: evil,
      autoconnecting: true,
      uptimeMs: 5000,
      counters: { commands: null, connection: null, restarts: 0 },
      watchdog: null,
      connection: { activity: evil },
      errors: { [`actor${evil}`]: { code: evil, message: evil } },
      recentTransitions: [{ at: 'not a date', from: evil, to: evil, reason: evil }],
      communication: evil,
      component: {
        reset: { reason: evil, reasonName: evil, data: evil, dataName: evil },
        uptimeMs: 1000,
        internalErrors: { count: 1, last: { code: evil, at: evil } },
        updater: { firmwareVersion: evil, protoVersion: evil, at: evil },
        blocks: { count: 3, at: evil },
        storage: { errors: 1, last: { code: evil, opcode: evil, at: evil } },
      },
      tasks: { queued: 0, executing: 1 },
    };
    const tree = {
      id: `root${evil}`,
      state: evil,
      children: [
        {
          id: evil,
          kind: 'worker',
          restart: 'permanent',
          status: evil,
          incarnation: 1,
          restarts: 0,
          lastExit: { kind: 'crash', description: evil, at: '2026-01-02T03:04:05.000Z' },
        },
      ],
    };
    await withJsonServer(
      {
        '/api/status': [200, status],
        '/api/tree': [200, tree],
      },
      async (url) => {
        for (const [what, json] of [
          ['status', false],
          ['tree', false],
          ['status', true],
          ['tree', true],
        ] as const) {
          const io = captureIo();
          assert.equal(await runStatusCommand(what, { url, json }, io), 0, io.err);
          assertPrintable(io.out);
          assert.ok(io.out.includes(json ? '\\u001b[31mred' : '\\x1b[31mred'), io.out);
        }
      },
    );
    await withJsonServer(
      { '/api/status': [500, { error: { code: `TETHER_X${evil}`, message: evil } }] },
      async (url) => {
        const io = captureIo();
        assert.equal(await runStatusCommand('status', { url }, io), 1);
        assertPrintable(io.err);
        assert.match(io.err, /answered 500/);
      },
    );
  });

  it('an answer that is not a status is exit 1 with a one-line reason, not a stack trace', () =>
    withJsonServer(
      { '/api/status': [200, { phase: 'Synchronized' }], '/api/tree': [200, []] },
      async (url) => {
        for (const what of ['status', 'tree'] as const) {
          const io = captureIo();
          assert.equal(await runStatusCommand(what, { url }, io), 1, io.out);
          assert.equal(io.err.trim().split('\n').length, 1, io.err);
          assert.match(io.err, /not a (status|tree)/);
        }
      },
    ));

  it('an endless answer is cut at the bound: exit 1 with one line, the rest never read', async () => {
    // Whatever listens on the port may not be the service: it streams JSON-looking bytes forever.
    let sent = 0;
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"phase":"');
      const chunk = 'x'.repeat(64 * 1024);
      const more = (): void => {
        while (!response.destroyed && sent < 1024 * 1024 * 1024) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', more);
        }
      };
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const io = captureIo();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      assert.equal(await runStatusCommand('status', { url }, io), 1);
      assert.equal(io.err.trim().split('\n').length, 1, io.err);
      assert.match(io.err, /larger than/);
      assert.ok(sent < 256 * 1024 * 1024, `the server sent ${sent} bytes`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('durations read as a person would say them', () => {
    assert.deepEqual([0, 59_999, 60_000, 3_725_000, 90_000_000].map(formatDuration), [
      '0s',
      '59s',
      '1min 0s',
      '1h 2min',
      '1d 1h',
    ]);
  });
});

/**
 * `tether status` and `tether tree` against a running service's HTTP API:
 * what a person reads, the JSON a script reads, and an unreachable service.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { formatDuration, formatTree, runStatusCommand } from '../../cli/status-command.js';
import type { StatusIo } from '../../cli/status-command.js';
import type { TreeView } from '../../http/index.js';
import { withApi } from '../http/fixture.js';

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
          '└─watchdog running #1',
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

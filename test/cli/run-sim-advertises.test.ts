/**
 * `tether run` with the built-in simulator (what `npm start` does): the
 * simulator advertises itself on multicast DNS, as `tether sim` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_DEFAULTS } from '../../config/index.js';
import { MdnsBrowser } from '../../actors/connection/discovery/mdns/index.js';
import { LOOPBACK, testMdnsPort } from '../actors/connection/discovery/mdns/multicast.js';
import { RecordingLog } from '../fakes/recording-log.js';
import { deadline } from '../sim/client.js';
import { eventually } from '../helpers.js';
import { ROOMY_START_ENV } from '../e2e/tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

test('the built-in simulator of tether run advertises itself on mDNS with its device id', async () => {
  const port = testMdnsPort();
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-run-'));
  const browser = new MdnsBrowser({ port, interface: LOOPBACK, answerWaitMs: 100, log: new RecordingLog() });
  // Listening before the simulator comes up: its announcement is enough.
  await browser.find('', { wait: false });
  const child = spawn(process.execPath, [CLI, 'run', '--sim-if-unconfigured', '--log-level', 'warn'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TETHER_HTTP__PORT: '0',
      ...ROOMY_START_ENV,
      TETHER_STATE_DIR: stateDir,
      TETHER_DISCOVERY__MDNS__PORT: String(port),
      TETHER_DISCOVERY__MDNS__INTERFACE: LOOPBACK,
    },
    stdio: 'ignore',
  });
  const exited = once(child, 'exit');
  try {
    await eventually(() => browser.counters.cached > 0, 20_000, 'the built-in simulator announced');
    const [sighting] = await browser.find(CONFIG_DEFAULTS.simulator.deviceId, { wait: false });
    assert.equal(sighting?.address, LOOPBACK);
    assert.ok((sighting?.port ?? 0) > 0);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    const [code] = await deadline(exited, 15_000, 'tether run to exit');
    await rm(stateDir, { recursive: true, force: true });
    assert.equal(code, 0);
  }
});

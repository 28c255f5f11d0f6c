import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RediscoveryGate } from '../../system/rediscovery-gate.js';
import {
  discoveryWindowMs,
  loadRediscoveryState,
  parseRediscoveryState,
  recordRediscoveryExit,
  REDISCOVERY_FILE,
  resetRediscoveryState,
  withExit,
} from '../../system/rediscovery-state.js';
import { runNode } from './run-node.js';

const REDISCOVERY_RUN = new URL('./fixtures/rediscovery-run.js', import.meta.url);
const MIN = 60_000;
const HOUR = 60 * MIN;
const T = Date.UTC(2025, 5, 1);

describe('rediscovery backoff', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-rediscovery-'));
    dirs.push(dir);
    return dir;
  };

  test('the discovery window grows with each recent exit, up to the cap', () => {
    const options = { factor: 2, capMs: 30 * MIN, forgetAfterMs: 24 * HOUR };
    const cases: Array<[string, number, number[], number]> = [
      ['no exit', 2 * MIN, [], 2 * MIN],
      ['one exit', 2 * MIN, [T - 3 * MIN], 4 * MIN],
      ['two exits', 2 * MIN, [T - 9 * MIN, T - 3 * MIN], 8 * MIN],
      ['three exits', 2 * MIN, [T - 20 * MIN, T - 9 * MIN, T - 3 * MIN], 16 * MIN],
      ['four exits reach the cap', 2 * MIN, [1, 2, 3, 4].map((i) => T - i * MIN), 30 * MIN],
      ['many exits stay at the cap', 2 * MIN, Array.from({ length: 30 }, (_, i) => T - i * MIN), 30 * MIN],
      ['an exit older than forgetAfterMs no longer counts', 2 * MIN, [T - 25 * HOUR, T - 3 * MIN], 4 * MIN],
      ['an exit in the future (clock set back) still counts', 2 * MIN, [T + 5 * MIN], 4 * MIN],
      ['an exit absurdly far in the future does not', 2 * MIN, [T + 48 * HOUR], 2 * MIN],
      ['a base above the cap is kept as it is', 60 * MIN, [T - MIN], 60 * MIN],
    ];
    for (const [what, base, exits, expected] of cases) {
      assert.equal(discoveryWindowMs(base, { exits }, T, options), expected, what);
    }
  });

  test('recording an exit forgets old ones and keeps at most maxExits', () => {
    assert.deepEqual(withExit({ exits: [T - 25 * HOUR, T - MIN] }, T).exits, [T - MIN, T]);
    const many = { exits: Array.from({ length: 40 }, (_, i) => T - (40 - i) * MIN) };
    const next = withExit(many, T, { maxExits: 5 });
    assert.deepEqual(next.exits, [T - 4 * MIN, T - 3 * MIN, T - 2 * MIN, T - MIN, T]);
  });

  test('the file format is checked', () => {
    assert.deepEqual(parseRediscoveryState({ version: 1, exits: [3, 1] }), { exits: [1, 3] });
    for (const bad of [null, [], { exits: [] }, { version: 2, exits: [] }, { version: 1, exits: ['x'] }]) {
      assert.throws(() => parseRediscoveryState(bad), Error, JSON.stringify(bad));
    }
  });

  test('exits are recorded in the state directory, and a reset forgets them', async () => {
    const dir = await tempDir();
    await recordRediscoveryExit(dir, T);
    await recordRediscoveryExit(dir, T + MIN);
    assert.deepEqual((await loadRediscoveryState(dir)).state, { exits: [T, T + MIN] });
    assert.deepEqual(JSON.parse(await readFile(join(dir, REDISCOVERY_FILE), 'utf8')), {
      version: 1,
      exits: [T, T + MIN],
    });
    await resetRediscoveryState(dir);
    assert.deepEqual(await loadRediscoveryState(dir), { state: { exits: [] } });
  });

  test('a corrupt state file at start is reported and counts as no exits', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, REDISCOVERY_FILE), '{"version": 1, "exits": [17');
    const gate = new RediscoveryGate({
      stateDir: dir,
      baseMs: 2 * MIN,
      clock: { wall: () => T, monotonic: () => 0 },
    });
    const loaded = await gate.load();
    assert.equal(loaded.problem?.code, 'TETHER_STATE_FILE_CORRUPT');
    assert.equal(loaded.windowMs, 2 * MIN);
    const names = await readdir(dir);
    assert.ok(
      names.some((n) => n.startsWith(`${REDISCOVERY_FILE}.corrupt-`)),
      names.join(' '),
    );
    // The replacement is a valid empty state.
    assert.deepEqual(await loadRediscoveryState(dir), { state: { exits: [] } });
  });

  test('the gate grants the exit only after the window without a connection, and a connection restarts the wait', async () => {
    const dir = await tempDir();
    await recordRediscoveryExit(dir, T - 5 * MIN);
    let mono = 1000;
    const gate = new RediscoveryGate({
      stateDir: dir,
      baseMs: 2 * MIN,
      clock: { wall: () => T + mono, monotonic: () => mono },
    });
    assert.equal((await gate.load()).windowMs, 4 * MIN);
    mono += 2 * MIN;
    assert.deepEqual(gate.decide(), { exit: false, quietMs: 2 * MIN, windowMs: 4 * MIN });
    mono += 2 * MIN;
    assert.equal(gate.decide().exit, true);
    gate.onDisconnected();
    assert.equal(gate.decide().exit, false);
    await gate.onConnected();
    // The streak is over: the window is back to the base, in memory and on disk.
    assert.equal(gate.windowMs(), 2 * MIN);
    assert.deepEqual((await loadRediscoveryState(dir)).state, { exits: [] });
    mono += 2 * MIN;
    assert.equal(gate.decide().exit, true);
  });

  test('rediscovery exits back off across process runs, and a connection resets them', async () => {
    const dir = await tempDir();
    const run = async (now: number, action: 'exit' | 'connect') => {
      const result = await runNode(REDISCOVERY_RUN, [dir, String(2 * MIN), String(now), action]);
      assert.equal(result.code, action === 'exit' ? 75 : 0, result.stderr);
      return JSON.parse(result.stdout) as { windowMs: number; recentExits: number };
    };
    assert.equal((await run(T, 'exit')).windowMs, 2 * MIN);
    assert.equal((await run(T + 2 * MIN, 'exit')).windowMs, 4 * MIN);
    assert.equal((await run(T + 6 * MIN, 'connect')).windowMs, 8 * MIN);
    // That run connected: the next starts from the base again.
    assert.deepEqual(await run(T + 60 * MIN, 'exit'), { windowMs: 2 * MIN, recentExits: 0 });
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Block } from '../../../protocol/index.js';
import { FileDatastore, MAX_BLOCKS_FILE_BYTES } from '../../../actors/synchronization/datastore.js';
import { TetherError } from '../../../runtime/errors.js';
import { STATE_FILE_MODE } from '../../../system/state-file.js';

const DEVICE = '123456789012345678901234';
const BLOCKS: Block[] = [
  { id: 100, type: 'TempSensor', data: { value: 20.5, name: 'fridge' } },
  { id: 101, type: 'Pid', data: { enabled: true, input: { id: 100 } } },
];

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-datastore-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('saved blocks and names load back the same, with the time of the save', async () => {
  await withDir(async (dir) => {
    const now = Date.UTC(2026, 2, 24, 12, 0, 0);
    const store = new FileDatastore(dir, { now: () => now });
    const names = [{ id: 100, name: 'fridge sensor' }];
    await store.save({ deviceId: DEVICE, blocks: BLOCKS, names, savedAt: null });
    const loaded = await new FileDatastore(dir).load(DEVICE);
    assert.deepEqual(loaded.store, {
      deviceId: DEVICE,
      blocks: BLOCKS,
      names,
      savedAt: new Date(now).toISOString(),
    });
    assert.equal(loaded.recovered, undefined);
    assert.equal(loaded.path, join(dir, `blocks-${DEVICE}.json`));
  });
});

test('a store written before names (format 1) loads, without names', async () => {
  await withDir(async (dir) => {
    const path = join(dir, `blocks-${DEVICE}.json`);
    await writeFile(path, JSON.stringify({ format: 1, deviceId: DEVICE, savedAt: null, blocks: BLOCKS }));
    const loaded = await new FileDatastore(dir).load(DEVICE);
    assert.equal(loaded.recovered, undefined);
    assert.deepEqual(loaded.store.blocks, BLOCKS);
    assert.deepEqual(loaded.store.names, []);
  });
});

test('each device has its own file, named by its id in lower case', async () => {
  await withDir(async (dir) => {
    const store = new FileDatastore(dir);
    const other = 'ABCDEFABCDEFABCDEFABCDEF';
    await store.save({ deviceId: DEVICE, blocks: BLOCKS, savedAt: null });
    await store.save({ deviceId: other, blocks: [], savedAt: null });
    assert.deepEqual((await readdir(dir)).sort(), [
      `blocks-${DEVICE}.json`,
      `blocks-${other.toLowerCase()}.json`,
    ]);
    assert.equal((await store.load(other)).store.blocks.length, 0);
    assert.equal((await store.load(other.toLowerCase())).store.deviceId, other.toLowerCase());
    assert.equal((await store.load(DEVICE)).store.blocks.length, 2);
  });
});

test('a missing file is an empty store, and a missing state directory is created', async () => {
  await withDir(async (dir) => {
    const stateDir = join(dir, 'not', 'there', 'yet');
    const loaded = await new FileDatastore(stateDir).load(DEVICE);
    assert.deepEqual(loaded.store, { deviceId: DEVICE, blocks: [], savedAt: null });
    assert.equal(loaded.recovered, undefined);
    assert.deepEqual(await readdir(stateDir), []);

    const elsewhere = join(dir, 'other', 'state');
    await new FileDatastore(elsewhere).save({ deviceId: DEVICE, blocks: BLOCKS, savedAt: null });
    assert.deepEqual(await readdir(elsewhere), [`blocks-${DEVICE}.json`]);
  });
});

test('a save leaves no temporary file behind, and a stale one from a crash is removed on load', async () => {
  await withDir(async (dir) => {
    const store = new FileDatastore(dir);
    await store.save({ deviceId: DEVICE, blocks: BLOCKS, savedAt: null });
    await store.save({ deviceId: DEVICE, blocks: BLOCKS.slice(1), savedAt: null });
    assert.deepEqual(await readdir(dir), [`blocks-${DEVICE}.json`]);

    await writeFile(join(dir, `.blocks-${DEVICE}.json.tmp-1-deadbeef`), '{"half');
    const loaded = await store.load(DEVICE);
    assert.equal(loaded.store.blocks.length, 1);
    assert.deepEqual(await readdir(dir), [`blocks-${DEVICE}.json`]);
  });
});

for (const [what, content] of [
  ['truncated JSON', '{"format":1,"deviceId":"123456789012345678901234","blocks":[{"id":1'],
  ['an empty file', ''],
  ['blocks that are not an array', `{"format":1,"deviceId":"${DEVICE}","savedAt":null,"blocks":{}}`],
  [
    'a block without data',
    `{"format":1,"deviceId":"${DEVICE}","savedAt":null,"blocks":[{"id":100,"type":"X"}]}`,
  ],
  ['another device id', `{"format":1,"deviceId":"aaaaaaaaaaaaaaaaaaaaaaaa","savedAt":null,"blocks":[]}`],
  ['an unknown format', `{"format":99,"deviceId":"${DEVICE}","savedAt":null,"blocks":[]}`],
] as const) {
  test(`a file with ${what} is set aside, replaced by an empty store, and reported`, async () => {
    await withDir(async (dir) => {
      const now = Date.UTC(2026, 2, 24, 12, 30, 15, 250);
      const store = new FileDatastore(dir, { now: () => now });
      const path = join(dir, `blocks-${DEVICE}.json`);
      await writeFile(path, content);

      const loaded = await store.load(DEVICE);
      assert.deepEqual(loaded.store, { deviceId: DEVICE, blocks: [], savedAt: null });
      assert.ok(loaded.recovered !== undefined);
      assert.equal(loaded.recovered.code, 'TETHER_STATE_FILE_CORRUPT');
      assert.equal(loaded.recovered.setAsideAs, `${path}.corrupt-2026-03-24T12-30-15-250Z`);
      assert.equal(
        await readFile(loaded.recovered.setAsideAs, 'utf8'),
        content,
        'the bad file is kept for a person',
      );

      const again = await store.load(DEVICE);
      assert.equal(again.recovered, undefined, 'the replacement is a valid empty store');
      assert.deepEqual(again.store.blocks, []);
    });
  });
}

test('a device id that is not 24 hex digits is refused, so a controller cannot name a path', async () => {
  await withDir(async (dir) => {
    const store = new FileDatastore(dir);
    await assert.rejects(store.load('../../etc/passwd'), (error) =>
      TetherError.is(error, 'TETHER_DATASTORE'),
    );
    await assert.rejects(store.save({ deviceId: '12345', blocks: [], savedAt: null }), (error) =>
      TetherError.is(error, 'TETHER_DATASTORE'),
    );
  });
});

test('a state directory that is a file, or under one, is a coded error on load and save, not a crash', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    for (const stateDir of [file, join(file, 'state')]) {
      const store = new FileDatastore(stateDir);
      await assert.rejects(store.load(DEVICE), (error) => TetherError.is(error, 'TETHER_STATE_DIR_UNUSABLE'));
      await assert.rejects(store.save({ deviceId: DEVICE, blocks: [], savedAt: null }), (error) =>
        TetherError.is(error, 'TETHER_STATE_DIR_UNUSABLE'),
      );
    }
    assert.equal(await readFile(file, 'utf8'), '', 'left alone');
  });
});

test('a directory in place of the blocks file is a coded error on load and save, and is left alone', async () => {
  await withDir(async (dir) => {
    const path = join(dir, `blocks-${DEVICE}.json`);
    await mkdir(join(path, 'inside'), { recursive: true });
    const store = new FileDatastore(dir);
    await assert.rejects(store.load(DEVICE), (error) =>
      TetherError.is(error, 'TETHER_STATE_FILE_IS_DIRECTORY'),
    );
    await assert.rejects(store.save({ deviceId: DEVICE, blocks: BLOCKS, savedAt: null }), (error) =>
      TetherError.is(error, 'TETHER_STATE_FILE_IS_DIRECTORY'),
    );
    assert.deepEqual(await readdir(path), ['inside']);
  });
});

test(
  'a FIFO in place of the blocks file is set aside unopened and replaced by an empty store',
  { timeout: 10_000 },
  async () => {
    await withDir(async (dir) => {
      const now = Date.UTC(2026, 2, 24, 12, 30, 15, 250);
      const path = join(dir, `blocks-${DEVICE}.json`);
      execFileSync('mkfifo', [path]);
      // Should a regression open it after all, the open waits for a writer and the test process could
      // never exit: a writer that comes and goes releases it (at once if nothing is waiting: ENXIO).
      const release = async (): Promise<void> => {
        const writer = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
        await writer?.close();
      };
      const timer = setTimeout(() => void release(), 8000);
      const loaded = await new FileDatastore(dir, { now: () => now }).load(DEVICE).finally(async () => {
        clearTimeout(timer);
        await release();
      });
      assert.deepEqual(loaded.store.blocks, []);
      assert.equal(loaded.recovered?.code, 'TETHER_STATE_FILE_NOT_REGULAR');
      assert.equal(loaded.recovered.setAsideAs, `${path}.not-regular-2026-03-24T12-30-15-250Z`);
      assert.ok((await lstat(loaded.recovered.setAsideAs)).isFIFO());
      assert.ok((await lstat(path)).isFile());
    });
  },
);

test('a blocks file over the size bound is set aside unread; a large valid one is read', async () => {
  await withDir(async (dir) => {
    const path = join(dir, `blocks-${DEVICE}.json`);
    const store = new FileDatastore(dir);
    // Valid and close to the bound: a store no controller could hold, still read.
    const padding = 'x'.repeat(1000);
    const many = Array.from({ length: Math.floor(MAX_BLOCKS_FILE_BYTES / 1200) }, (_, i) => ({
      id: 100 + i,
      type: 'TempSensor',
      data: { name: padding },
    }));
    await store.save({ deviceId: DEVICE, blocks: many, savedAt: null });
    assert.ok((await stat(path)).size <= MAX_BLOCKS_FILE_BYTES);
    assert.equal((await store.load(DEVICE)).store.blocks.length, many.length);

    const file = await open(path, 'w');
    await file.truncate(MAX_BLOCKS_FILE_BYTES + 1);
    await file.close();
    const loaded = await store.load(DEVICE);
    assert.deepEqual(loaded.store.blocks, []);
    assert.equal(loaded.recovered?.code, 'TETHER_STATE_FILE_TOO_LARGE');
    assert.equal((await stat(loaded.recovered.setAsideAs)).size, MAX_BLOCKS_FILE_BYTES + 1);
  });
});

test('the blocks file is written with the one state-file mode', async () => {
  await withDir(async (dir) => {
    await new FileDatastore(dir).save({ deviceId: DEVICE, blocks: BLOCKS, savedAt: null });
    const mode = (await stat(join(dir, `blocks-${DEVICE}.json`))).mode & 0o777;
    assert.equal(mode, STATE_FILE_MODE & ~process.umask());
  });
});

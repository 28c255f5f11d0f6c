import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readJsonState, writeJsonState } from '../../system/state-file.js';

interface Counter {
  count: number;
}

function parseCounter(raw: unknown): Counter {
  const count = (raw as { count?: unknown } | null)?.count;
  if (typeof count !== 'number') throw new Error('count: expected a number');
  return { count };
}

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 6);

describe('state files', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-state-'));
    dirs.push(dir);
    return dir;
  };
  const read = (path: string) =>
    readJsonState(path, { parse: parseCounter, fallback: { count: 0 }, now: () => NOW });

  test('a written value reads back, and no temporary file is left', async () => {
    const dir = await tempDir();
    const path = join(dir, 'nested', 'counter.json');
    await writeJsonState(path, { count: 1 });
    await writeJsonState(path, { count: 2 });
    assert.deepEqual(await read(path), { value: { count: 2 } });
    assert.deepEqual(await readdir(join(dir, 'nested')), ['counter.json']);
  });

  test('a missing file gives the fallback, with no problem', async () => {
    const dir = await tempDir();
    assert.deepEqual(await read(join(dir, 'absent.json')), { value: { count: 0 } });
  });

  const corrupt: Array<[string, string]> = [
    ['an empty file', ''],
    ['a truncated file', '{"count": 1'],
    ['not JSON', 'count=1'],
    ['the wrong shape', '{"count": "one"}'],
    ['zero bytes of a power cut', '\u0000\u0000\u0000'],
  ];
  for (const [what, content] of corrupt) {
    test(`${what} at start is reported, set aside and replaced, never thrown`, async () => {
      const dir = await tempDir();
      const path = join(dir, 'counter.json');
      await writeFile(path, content);
      const result = await read(path);
      assert.deepEqual(result.value, { count: 0 });
      assert.equal(result.problem?.kind, 'corrupt');
      const aside = `${path}.corrupt-2025-01-02T03-04-05.006Z`;
      assert.equal(result.problem?.setAsideTo, aside);
      assert.equal(await readFile(aside, 'utf8'), content);
      // Replaced: the next start reads the fallback without a problem.
      assert.deepEqual(await read(path), { value: { count: 0 } });
    });
  }

  test('a file that cannot be read is reported and left alone', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await mkdir(path);
    const result = await read(path);
    assert.deepEqual(result.value, { count: 0 });
    assert.equal(result.problem?.kind, 'unreadable');
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  test('a failed write throws and leaves the previous file whole', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await writeJsonState(path, { count: 1 });
    // A value JSON cannot hold fails before the rename.
    await assert.rejects(writeJsonState(path, { count: 1n }), TypeError);
    assert.deepEqual(await read(path), { value: { count: 1 } });
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });
});

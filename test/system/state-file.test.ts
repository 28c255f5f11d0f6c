import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { TetherError } from '../../errors/index.js';
import {
  readJsonState,
  readStateText,
  STATE_FILE_MODE,
  withinBound,
  writeFileAtomic,
  writeJsonState,
} from '../../system/state-file.js';

interface Counter {
  count: number;
}

function parseCounter(raw: unknown): Counter {
  const count = (raw as { count?: unknown } | null)?.count;
  if (typeof count !== 'number') throw new Error('count: expected a number');
  return { count };
}

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
const STAMP = '2025-01-02T03-04-05-006Z';
/** Each test that touches a FIFO or a device fails at this bound instead of hanging. */
const NO_HANG = { timeout: 10_000 };
const isRoot = process.getuid?.() === 0;

/** The mode a new file gets: ours, less what the process umask removes. */
function expectedMode(): number {
  const umask = process.umask();
  return STATE_FILE_MODE & ~umask;
}

/** A logger whose lines a test can read. */
function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

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
  const read = (path: string, extra: { maxBytes?: number; logger?: pino.Logger } = {}) =>
    readJsonState(path, { parse: parseCounter, fallback: { count: 0 }, now: () => NOW, ...extra });

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

  test('a missing state directory gives the fallback, with no problem, and is not created by a read', async () => {
    const dir = await tempDir();
    assert.deepEqual(await read(join(dir, 'not-yet', 'counter.json')), { value: { count: 0 } });
    assert.deepEqual(await readdir(dir), []);
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
      assert.equal(result.problem?.code, 'TETHER_STATE_FILE_CORRUPT');
      const aside = `${path}.corrupt-${STAMP}`;
      assert.equal(result.problem?.setAsideTo, aside);
      assert.equal(await readFile(aside, 'utf8'), content);
      // Replaced: the next start reads the fallback without a problem.
      assert.deepEqual(await read(path), { value: { count: 0 } });
    });
  }

  // ------------------------------------------------- what is not a regular file

  /** Makes something that is not a regular file at `path`; returns a clean-up. */
  type Maker = (path: string, dir: string) => Promise<() => Promise<void>>;
  const nothing = async (): Promise<void> => undefined;
  /**
   * Should a regression open the FIFO after all, its open waits for a writer
   * and the test process could never exit: a writer that comes and goes
   * releases it. Without a reader waiting, the open fails at once (ENXIO).
   */
  const releaseFifo = (fifo: string) => async (): Promise<void> => {
    const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await writer?.close();
  };
  const notRegular: Array<[string, Maker, (path: string) => Promise<boolean>, boolean?]> = [
    [
      'a FIFO',
      async (path) => {
        execFileSync('mkfifo', [path]);
        return releaseFifo(path);
      },
      async (path) => (await lstat(path)).isFIFO(),
    ],
    [
      'a Unix socket',
      async (path, dir) => {
        // Listened on under another name and moved into place: closing the server later unlinks only that name.
        const server = createServer();
        const bound = join(dir, 'listening.sock');
        await new Promise<void>((resolve) => server.listen(bound, resolve));
        await rename(bound, path);
        return () => new Promise<void>((resolve) => server.close(() => resolve()));
      },
      async (path) => (await lstat(path)).isSocket(),
    ],
    [
      'a character device',
      async (path) => {
        execFileSync('mknod', [path, 'c', '1', '3']); // /dev/null's numbers
        return nothing;
      },
      async (path) => (await lstat(path)).isCharacterDevice(),
      !isRoot,
    ],
    [
      'a symbolic link to a FIFO',
      async (path, dir) => {
        execFileSync('mkfifo', [join(dir, 'elsewhere.fifo')]);
        await symlink(join(dir, 'elsewhere.fifo'), path);
        return releaseFifo(join(dir, 'elsewhere.fifo'));
      },
      async (path) => (await lstat(path)).isSymbolicLink(),
    ],
    [
      'a symbolic link to a device',
      async (path) => {
        await symlink('/dev/zero', path);
        return nothing;
      },
      async (path) => (await lstat(path)).isSymbolicLink(),
    ],
    [
      'a symbolic link to a regular file',
      async (path, dir) => {
        await writeFile(join(dir, 'target.json'), '{"count": 7}');
        await symlink(join(dir, 'target.json'), path);
        return nothing;
      },
      async (path) => (await lstat(path)).isSymbolicLink(),
    ],
  ];
  for (const [what, make, isIt, skip] of notRegular) {
    test(
      `${what} in a state file's place is never opened: set aside as it is, and replaced`,
      { ...NO_HANG, skip: skip === true ? 'needs root for mknod' : false },
      async () => {
        const dir = await tempDir();
        const path = join(dir, 'counter.json');
        const cleanUp = await make(path, dir);
        try {
          const { logger, lines } = recordingLogger();
          // Before the test's own timeout: a blocked open is released, so a regression fails instead of hanging.
          const release = setTimeout(() => void cleanUp(), 8000);
          const result = await read(path, { logger }).finally(() => clearTimeout(release));
          assert.deepEqual(result.value, { count: 0 });
          assert.equal(result.problem?.code, 'TETHER_STATE_FILE_NOT_REGULAR');
          const aside = `${path}.not-regular-${STAMP}`;
          assert.equal(result.problem?.setAsideTo, aside);
          assert.ok(await isIt(aside), 'moved as it was');
          assert.ok((await lstat(path)).isFile(), 'replaced by a regular file');
          assert.deepEqual(await read(path), { value: { count: 0 } });
          assert.equal(lines.filter((l) => l['level'] === 40).length, 1, 'one warning');
        } finally {
          await cleanUp();
        }
      },
    );
  }

  test("a directory in a state file's place is reported and left alone, at level error", async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await mkdir(join(path, 'inside'), { recursive: true });
    const { logger, lines } = recordingLogger();
    const result = await read(path, { logger });
    assert.deepEqual(result.value, { count: 0 });
    assert.equal(result.problem?.code, 'TETHER_STATE_FILE_IS_DIRECTORY');
    assert.equal(result.problem?.setAsideTo, undefined);
    assert.deepEqual(await readdir(dir), ['counter.json']);
    assert.deepEqual(await readdir(path), ['inside']);
    assert.deepEqual(
      lines.map((l) => l['level']),
      [50],
    );
  });

  test('a state directory that is a file is reported, not thrown', async () => {
    const dir = await tempDir();
    const stateDir = join(dir, 'state');
    await writeFile(stateDir, 'a file');
    const result = await read(join(stateDir, 'counter.json'));
    assert.deepEqual(result.value, { count: 0 });
    assert.equal(result.problem?.code, 'TETHER_STATE_DIR_UNUSABLE');
    assert.equal(await readFile(stateDir, 'utf8'), 'a file', 'left alone');
  });

  test(
    'a file that the operating system refuses to read is set aside and replaced',
    { skip: isRoot ? 'root reads any file' : false },
    async () => {
      const dir = await tempDir();
      const path = join(dir, 'counter.json');
      await writeFile(path, '{"count": 3}');
      await chmod(path, 0o000);
      const result = await read(path);
      assert.equal(result.problem?.code, 'TETHER_STATE_FILE_UNREADABLE');
      assert.equal(result.problem?.setAsideTo, `${path}.unreadable-${STAMP}`);
      assert.deepEqual(await read(path), { value: { count: 0 } });
    },
  );

  // ------------------------------------------------------------------- size

  test('a file larger than the bound is set aside unread; one at the bound is read', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    const atBound = `{"count": 5}${' '.repeat(1000 - 12)}`;
    assert.equal(Buffer.byteLength(atBound), 1000);
    await writeFile(path, atBound);
    assert.deepEqual(await read(path, { maxBytes: 1000 }), { value: { count: 5 } });

    await writeFile(path, `${atBound} `);
    const result = await read(path, { maxBytes: 1000 });
    assert.deepEqual(result.value, { count: 0 });
    assert.equal(result.problem?.code, 'TETHER_STATE_FILE_TOO_LARGE');
    assert.equal(result.problem?.setAsideTo, `${path}.oversized-${STAMP}`);
    assert.equal((await stat(`${path}.oversized-${STAMP}`)).size, 1001);
  });

  test('a huge sparse file is refused by its size, without reading it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'huge.json');
    const file = await open(path, 'w');
    await file.truncate(8 * 1024 * 1024 * 1024); // 8 GiB by its size; reading it would take minutes
    await file.close();
    await assert.rejects(readStateText(path, { maxBytes: 1024 }), (error) =>
      TetherError.is(error, 'TETHER_STATE_FILE_TOO_LARGE'),
    );
  });

  // ------------------------------------------------------------------ writes

  test('every write creates the file with the one state-file mode, also over an older file of another mode', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await writeFile(path, '{"count": 1}', { mode: 0o644 });
    await chmod(path, 0o644);
    await writeJsonState(path, { count: 2 });
    assert.equal((await stat(path)).mode & 0o777, expectedMode());
    await writeFileAtomic(join(dir, 'other.txt'), 'text');
    assert.equal((await stat(join(dir, 'other.txt'))).mode & 0o777, expectedMode());
    // A replacement written after a set-aside has it too.
    await writeFile(path, 'not json');
    await read(path);
    assert.equal((await stat(path)).mode & 0o777, expectedMode());
  });

  test('a failed write throws and leaves the previous file whole', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await writeJsonState(path, { count: 1 });
    // A value JSON cannot hold fails before any file is touched.
    await assert.rejects(writeJsonState(path, { count: 1n }), TypeError);
    assert.deepEqual(await read(path), { value: { count: 1 } });
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  test('a write over a directory is a coded error, and leaves the directory and no temporary file', async () => {
    const dir = await tempDir();
    const blocked = join(dir, 'blocked');
    await mkdir(join(blocked, 'inner'), { recursive: true });
    await assert.rejects(writeFileAtomic(blocked, 'text'), (error) =>
      TetherError.is(error, 'TETHER_STATE_FILE_IS_DIRECTORY'),
    );
    assert.deepEqual(await readdir(dir), ['blocked']);
    assert.deepEqual(await readdir(blocked), ['inner']);
  });

  test('a write into a state directory that is a file is a coded error', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'state'), '');
    await assert.rejects(writeFileAtomic(join(dir, 'state', 'counter.json'), 'text'), (error) =>
      TetherError.is(error, 'TETHER_STATE_DIR_UNUSABLE'),
    );
  });

  test('a temporary file a crash left behind is removed by the next load', async () => {
    const dir = await tempDir();
    const path = join(dir, 'counter.json');
    await writeJsonState(path, { count: 4 });
    await writeFile(join(dir, '.counter.json.tmp-1-deadbeef'), '{"cou');
    assert.deepEqual(await read(path), { value: { count: 4 } });
    assert.deepEqual(await readdir(dir), ['counter.json']);
  });

  // ---------------------------------------------------------------- deadline

  test('a file step that hangs for real is cut off at its bound with a coded timeout', NO_HANG, async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // A plain open of a FIFO blocks until a writer comes: the hang this module's reads avoid.
    const started = Date.now();
    const hung = readFile(fifo);
    await assert.rejects(
      withinBound(fifo, 'read', 200, () => hung),
      (error) => TetherError.is(error, 'TETHER_STATE_FILE_TIMEOUT') && error.detail['path'] === fifo,
    );
    assert.ok(Date.now() - started < 5000, 'settled near its bound');
    // Release the blocked open (a writer arrives and leaves), so the test leaves nothing behind.
    const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    await writer.close();
    assert.equal((await hung).length, 0);
  });
});

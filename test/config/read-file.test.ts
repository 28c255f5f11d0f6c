/**
 * The configuration file is a regular file of bounded size: a FIFO, a
 * directory or a file over the bound is a clear error at once, never a hang
 * or a read of everything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, ConfigNotFoundError, MAX_CONFIG_BYTES, readConfigFile } from '../../config/index.js';
import { tempDir } from './helpers.js';

describe('reading the configuration file', () => {
  let files: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    files = await tempDir();
  });
  after(() => files.remove());

  it('a file up to the bound is read whole; one byte more is a ConfigError at line 1, column 1', async () => {
    const fits = await files.write('fits.yaml', `#${'x'.repeat(98)}\n`);
    assert.equal((await readConfigFile(fits, 100)).length, 100);
    const over = await files.write('over.yaml', `#${'x'.repeat(99)}\n`);
    await assert.rejects(readConfigFile(over, 100), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'TETHER_CONFIG_INVALID');
      assert.deepEqual(
        error.problems.map((p) => (p.source === 'file' ? [p.file, p.line, p.column] : [])),
        [[over, 1, 1]],
      );
      return true;
    });
  });

  it('a 50 MB file is refused by its size, without being read', async () => {
    const path = join(files.dir, 'huge.yaml');
    const handle = await open(path, 'w');
    await handle.truncate(50 * 1024 * 1024);
    await handle.close();
    const started = performance.now();
    await assert.rejects(readConfigFile(path), ConfigError);
    assert.ok(MAX_CONFIG_BYTES < 50 * 1024 * 1024);
    assert.ok(performance.now() - started < 10_000);
  });

  it('a FIFO is refused at once rather than read (which would wait for a writer forever)', async () => {
    const path = join(files.dir, 'fifo.yaml');
    assert.equal(spawnSync('mkfifo', [path]).status, 0, 'mkfifo');
    await assert.rejects(readConfigFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigNotFoundError);
      assert.equal(error.code, 'TETHER_CONFIG_NOT_FOUND');
      return true;
    });
  });

  it('a symbolic link to a regular file is followed (a Kubernetes ConfigMap mounts one); a link to a FIFO is refused', async () => {
    const target = await files.write('target.yaml', 'log:\n  level: debug\n');
    const link = join(files.dir, 'linked.yaml');
    await symlink(target, link);
    assert.equal(await readConfigFile(link), 'log:\n  level: debug\n');
    const fifo = join(files.dir, 'linked-fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const toFifo = join(files.dir, 'to-fifo.yaml');
    await symlink(fifo, toFifo);
    await assert.rejects(readConfigFile(toFifo), ConfigNotFoundError);
  });

  it('a directory, or a file that does not exist, is TETHER_CONFIG_NOT_FOUND', async () => {
    await assert.rejects(readConfigFile(files.dir), ConfigNotFoundError);
    await assert.rejects(readConfigFile(join(files.dir, 'absent.yaml')), ConfigNotFoundError);
  });
});

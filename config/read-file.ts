/**
 * Reading the configuration file: a regular file of bounded size, nothing
 * else. A FIFO would block the read until someone writes to it (forever, at
 * start, before any signal handler can help), a device could stream without
 * end, and a file of many megabytes is not a configuration anyone wrote.
 * The file is opened non-blocking, checked with fstat on the open handle
 * (no window between check and use), and read up to the bound only, so a
 * file that grows while it is read is caught too.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigError, ConfigNotFoundError } from './errors.js';

/**
 * 256 KiB: the example file, every key with its comment, is under 10 KiB.
 * The bound is also what caps the loader's work: the YAML parser takes a
 * few microseconds a key, so a file of this size full of keys is refused
 * in under a second (bench/config.bench.ts).
 */
export const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * The file's text. Throws ConfigNotFoundError when it cannot be opened or is
 * not a regular file, and ConfigError (at line 1, column 1) when it is
 * larger than `maxBytes`.
 */
export async function readConfigFile(file: string, maxBytes = MAX_CONFIG_BYTES): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new ConfigNotFoundError(file, (error as NodeJS.ErrnoException).code ?? 'EIO', { cause: error });
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new ConfigNotFoundError(file, 'EISDIR');
    if (!stats.isFile()) throw new ConfigNotFoundError(file, 'not a regular file');
    if (stats.size > maxBytes) throw tooLarge(file, `${stats.size}`, maxBytes);
    // Read to the end, but never past the bound: the size fstat gave may be stale (or 0, as in /proc).
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) throw tooLarge(file, `more than ${maxBytes}`, maxBytes);
    }
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigNotFoundError) throw error;
    throw new ConfigNotFoundError(file, (error as NodeJS.ErrnoException).code ?? 'EIO', { cause: error });
  } finally {
    await handle.close();
  }
}

function tooLarge(file: string, size: string, maxBytes: number): ConfigError {
  return new ConfigError([
    {
      source: 'file',
      file,
      line: 1,
      column: 1,
      key: '',
      message: `the file is ${size} bytes; a configuration file may have ${maxBytes} at most`,
    },
  ]);
}

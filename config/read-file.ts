/**
 * Reading the configuration file: a regular file of bounded size, nothing
 * else. A FIFO would block the read until someone writes to it (forever, at
 * start, before any signal handler can help), a device could stream without
 * end, and a file of many megabytes is not a configuration anyone wrote.
 * The file is opened non-blocking, checked with fstat on the open handle
 * (no window between check and use), and read up to the bound only, so a
 * file that grows while it is read is caught too.
 */
import { TetherError } from '../errors/index.js';
import { readRegularFile } from '../system/index.js';
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
 * larger than `maxBytes`. The reading itself is the state files' bounded
 * reader (system/state-file.ts), following symbolic links: a configuration
 * mounted from a Kubernetes ConfigMap is one.
 */
export async function readConfigFile(file: string, maxBytes = MAX_CONFIG_BYTES): Promise<string> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readRegularFile(file, { maxBytes, followLinks: true });
  } catch (error) {
    throw asConfigError(file, error, maxBytes);
  }
  if (bytes === undefined) throw new ConfigNotFoundError(file, 'ENOENT');
  return bytes.toString('utf8');
}

function asConfigError(file: string, error: unknown, maxBytes: number): Error {
  if (!TetherError.is(error)) return new ConfigNotFoundError(file, 'EIO', { cause: error });
  switch (error.code) {
    case 'TETHER_STATE_FILE_TOO_LARGE':
      return tooLarge(file, String(error.detail['size']), maxBytes);
    case 'TETHER_STATE_FILE_IS_DIRECTORY':
      return new ConfigNotFoundError(file, 'EISDIR', { cause: error });
    case 'TETHER_STATE_FILE_NOT_REGULAR':
      return new ConfigNotFoundError(file, `not a regular file: a ${String(error.detail['found'])}`, {
        cause: error,
      });
    case 'TETHER_STATE_FILE_TIMEOUT':
      return new ConfigNotFoundError(file, 'timed out', { cause: error });
    default: {
      const code = (error.cause as { code?: unknown } | undefined)?.code;
      return new ConfigNotFoundError(file, typeof code === 'string' ? code : 'EIO', { cause: error });
    }
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

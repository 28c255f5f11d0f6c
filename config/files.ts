/**
 * The files the configuration names, checked before the service starts: a
 * CA file that does not exist, is a directory, is far too large or holds no
 * certificate is a configuration error naming `mqtt.caFile` and where it was
 * set, not an MQTT thread that fails and is restarted for ever.
 *
 * Apart from `resolveConfig` (synchronous, and used by commands that only
 * need the HTTP port, such as `tether status`): `tether run` and
 * `tether config check` call it. The MQTT actor reads the file again when it
 * starts, with the same reader (the file may have been replaced since).
 */
import { X509Certificate } from 'node:crypto';
import { TetherError } from '../errors/index.js';
import { readRegularFile } from '../system/index.js';
import { ConfigError, type ConfigKey, type ConfigProblem } from './errors.js';
import type { LoadedConfig } from './load.js';

/** A PEM bundle of a few CAs is kilobytes (Debian's whole ca-certificates.crt is about 200 KiB); anything past this is not one. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

/** Why `bytes` are not a CA file (no PEM certificate at all, or a broken first one), or undefined when it is one. */
export function caProblem(bytes: Buffer): string | undefined {
  if (!bytes.includes('-----BEGIN CERTIFICATE-----'))
    return 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----")';
  try {
    new X509Certificate(bytes);
    return undefined;
  } catch {
    return 'holds a PEM certificate that cannot be parsed';
  }
}

/**
 * The CA file's bytes, or a sentence saying why it cannot be used (what a
 * person fixes); the one way the service reads `mqtt.caFile`. The reading
 * is the service's one bounded reader (system/state-file.ts), following
 * symbolic links: /etc/ssl/certs and mounted secrets are links.
 */
export async function readCaFile(
  file: string,
): Promise<{ bytes: Buffer; why?: undefined } | { why: string; bytes?: undefined; cause?: unknown }> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readRegularFile(file, { maxBytes: MAX_CA_FILE_BYTES, followLinks: true });
  } catch (error) {
    // The reader's typed errors name the path and say what is wrong (a FIFO, too large, unreadable, ...);
    // its advice for a directory ("remove or move it") is for state files, not for a path a person typed.
    if (TetherError.is(error) && error.code === 'TETHER_STATE_FILE_IS_DIRECTORY')
      return { why: `${file} is a directory, not a file`, cause: error };
    // A path through a regular file: the reader says "state directory", which this is not.
    if (TetherError.is(error) && error.code === 'TETHER_STATE_DIR_UNUSABLE')
      return { why: `${file} cannot be read: a part of its path is not a directory (ENOTDIR)`, cause: error };
    return { why: TetherError.is(error) ? error.message : `${file} cannot be read`, cause: error };
  }
  if (bytes === undefined) return { why: `${file} does not exist` };
  const problem = caProblem(bytes);
  return problem === undefined ? { bytes } : { why: `${file} ${problem}` };
}

/** Throws ConfigError naming each file setting that cannot be used, traced to where it was set. */
export async function checkConfigFiles(loaded: LoadedConfig): Promise<void> {
  const { mqtt } = loaded.config;
  const problems: ConfigProblem[] = [];
  // Only when MQTT is on: nothing reads the CA otherwise.
  if (mqtt.url !== '' && mqtt.caFile !== '') {
    const ca = await readCaFile(mqtt.caFile);
    if (ca.why !== undefined) problems.push(problemAt(loaded, 'mqtt.caFile', ca.why));
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

function problemAt(loaded: LoadedConfig, key: ConfigKey, message: string): ConfigProblem {
  const origin = loaded.sources.origins[key];
  if (origin?.source === 'file') return { ...origin, key, message };
  if (origin?.source === 'env') return { source: 'env', variable: origin.variable, key, message };
  return { source: 'flags', key, message };
}

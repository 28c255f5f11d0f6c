/**
 * The version of this install, from the package.json beside dist/ (the
 * repository root, /opt/tether in the image and under systemd).
 */
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown };
    if (typeof version === 'string' && version !== '') return version;
  } catch {
    // Fall through: a missing or broken package.json must not stop the service from starting.
  }
  return 'unknown';
}

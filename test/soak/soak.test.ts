/**
 * `npm test` runs two minutes of the soak (`npm run soak -- --minutes 2`):
 * a real `tether run` process under a command load and random faults from
 * both sides, every invariant checked live; it fails if any broke.
 *
 * TETHER_SOAK_MINUTES sets the length; 0 leaves the soak out (CI runs it on
 * one of its two Node versions only, to stay within its time budget).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SOAK = fileURLToPath(new URL('../../soak/soak.js', import.meta.url));
const minutes = Number(process.env['TETHER_SOAK_MINUTES'] ?? '2');
/** Start-up, the final checks and the stop on a loaded machine, on top of the soak's own length. */
const MARGIN_MS = 5 * 60_000;

it(
  `the service holds every invariant through ${minutes} minutes of faults from both sides under a command load`,
  {
    skip: minutes > 0 ? false : 'TETHER_SOAK_MINUTES=0',
    timeout: minutes * 60_000 + MARGIN_MS,
  },
  async () => {
    const child = spawn(process.execPath, [SOAK, '--minutes', String(minutes)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      new Promise<'deadline'>(
        (resolve) => (timer = setTimeout(() => resolve('deadline'), minutes * 60_000 + MARGIN_MS - 10_000)),
      ),
    ]);
    clearTimeout(timer);
    if (code === 'deadline') {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // The summary (faults, requests, errors by code, recovery, RSS) is worth reading either way.
    console.log(output);
    assert.equal(code, 0, output);
  },
);

/**
 * Actor modules import `runtime/actor-entry`: it must load only what code
 * inside a worker needs, not the system, the supervisors or the logger,
 * which would cost every actor memory and start-up time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Module hooks that report every URL resolved, to the parent over a port. */
const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}`;

/** Imports `entry` in a fresh process and returns every module URL that loading it resolved. */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const script = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (url) => seen.push(url));
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), {
  data: { port: port2 },
  transferList: [port2],
});
await import(${JSON.stringify(entry)});
// The hooks run on their own thread: let the last URLs arrive.
await new Promise((resolve) => setTimeout(resolve, 100));
port1.close();
console.log(JSON.stringify(seen));
`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[];
}

describe('the actor entry', () => {
  it('loads defineActor and the errors, but not the system, the supervisors or pino', async () => {
    const loaded = await modulesLoadedBy(new URL('../../runtime/actor-entry.js', import.meta.url).href);
    assert.ok(
      loaded.some((url) => url.endsWith('/runtime/actor.js')),
      `actor.js among ${loaded.join(', ')}`,
    );
    for (const heavy of ['/runtime/system.js', '/runtime/logger.js', '/supervisors/', '/pino/']) {
      assert.ok(!loaded.some((url) => url.includes(heavy)), `${heavy} was loaded: ${loaded.join(', ')}`);
    }
  });

  it('the full entry does load them (the check above can tell)', async () => {
    const loaded = await modulesLoadedBy(new URL('../../runtime/index.js', import.meta.url).href);
    assert.ok(loaded.some((url) => url.includes('/pino/')));
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, deadline } from '../sim/client.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

test('tether sim serves TCP, takes fault commands on stdin and exits 0 on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    [CLI, 'sim', '--port', '0', '--quiet', '--device-id', 'ABCDEF012345678901234567'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const nextLine = (): Promise<string> =>
    deadline(new Promise<string>((resolve) => lines.once('line', resolve)), 10_000, 'a line from tether sim');
  let client: Client | undefined;
  try {
    const ready = await nextLine();
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
    client = await Client.tcp(port);
    const hs = await client.waitFor((o) => o.kind === 'event' && o.event.type === 'handshake');
    assert.ok(hs.kind === 'event' && hs.event.type === 'handshake');
    assert.equal(hs.event.handshake.deviceId, 'ABCDEF012345678901234567');
    child.stdin.write('silent on\n');
    assert.equal(await nextLine(), 'ok');
    child.stdin.write('nonsense\n');
    assert.match(await nextLine(), /^error: /);
  } finally {
    await client?.close();
    child.kill('SIGTERM');
    const [code] = await deadline(exited, 10_000, 'tether sim to exit');
    lines.close();
    assert.equal(code, 0);
  }
});
